"""The names of rawframes files as this project writes them (denseflow's, numbered from 1).

``img_00001.jpg ... img_<T>.jpg`` for the frames; ``flow_x_<n>.jpg``, ``flow_y_<n>.jpg`` for the flow
from frame n to frame n + step (``flow_x_p2_<n>`` for step 2, ``flow_x_m1_<n>`` for step -1, as
denseflow names them); ``.done`` for a finished folder's record.
"""

from __future__ import annotations

LAYOUT = 1  # version of this layout, recorded in every .done marker
DONE = ".done"
START_INDEX = 1  # the first number written (mmaction2's RawframeDataset reads from start_index=1)


class RawframesError(Exception):
    """Bad arguments (resize options that contradict each other, an unusable list name, a bad template)."""


def flow_prefix(step: int, axis: str) -> str:
    """``flow_x_`` (step 1), ``flow_x_p2_`` (step 2), ``flow_x_m1_`` (step -1), as denseflow names them."""
    if step == 1:
        return f"flow_{axis}_"
    return f"flow_{axis}_{'p' if step > 0 else 'm'}{abs(step)}_"


def image_name(prefix: str, n: int) -> str:
    return f"{prefix}{n:05d}.jpg"
