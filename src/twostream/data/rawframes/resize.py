"""denseflow's resize options (``--newWidth/--newHeight/--newShort``) and the size they give a video."""

from __future__ import annotations

import math
from dataclasses import dataclass

from twostream.data.rawframes.naming import RawframesError


@dataclass(frozen=True)
class Resize:
    """denseflow's ``--newWidth/--newHeight/--newShort`` (0: unset)."""

    width: int
    height: int
    short: int

    def __post_init__(self) -> None:
        if min(self.width, self.height, self.short) < 0:
            raise RawframesError("new width, height and short side cannot be negative")
        if self.short and (self.width or self.height):
            raise RawframesError("give either a new short side or a new width/height, not both")

    def size(self, height: int, width: int) -> tuple[int, int] | None:
        """(H, W) a (height, width) video is resized to, or None to keep it.

        Both sides given: that size; one side: the other keeps the aspect ratio; a short side: only
        videos whose short side is longer shrink (never enlarged), as denseflow does.
        """
        if self.width and self.height:
            return self.height, self.width
        if self.width:
            return _round(height * self.width / width), self.width
        if self.height:
            return self.height, _round(width * self.height / height)
        if self.short and min(height, width) > self.short:
            if width < height:
                return _round(height * self.short / width), self.short
            return self.short, _round(width * self.short / height)
        return None


def _round(x: float) -> int:
    """C's round() for positive numbers (half away from zero), as denseflow rounds sizes."""
    return int(math.floor(x + 0.5))
