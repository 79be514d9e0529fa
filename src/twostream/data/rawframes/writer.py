"""One video's rawframes folder: what it depends on (its recipe), and the writers of its files.

A folder is built under a temporary name and renamed when complete (``build``), with a ``.done``
record of its recipe and counts written last, so a folder with its final name is always complete; a
write the output folder refuses (disk full, read-only) is a WriteError naming it, which stops the export. The
record's ``frames_dropped`` lists the 0-based positions of the source frames that did not decode (the
frames that decode are numbered without gaps).

Flow JPEGs hold the shards' quantisation (``twostream.data.shards.quantize_flow``): clipped to +-bound,
q = round(127 v / bound) + 128. Frames shrunk on decode use ``INTER_AREA`` (as the shards' frames)
where denseflow resizes bilinearly.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from twostream.data.decoding import Decoded, decode
from twostream.data.rawframes.naming import (
    DONE,
    LAYOUT,
    START_INDEX,
    flow_prefix,
    image_name,
)
from twostream.data.rawframes.resize import Resize
from twostream.data.rawframes.sources import Video
from twostream.data.shards import Shard, quantize_flow
from twostream.data.video import VideoError, dropped, iter_frames, probe
from twostream.files import write_error
from twostream.flow import FlowBackend, normalize

PAIRS_PER_CALL = 32  # other steps than 1: frame pairs handed to the flow backend at once


@dataclass(frozen=True)
class Settings:
    """What a computed video's files depend on, besides the video and the backend."""

    step: int
    bound: float
    quality: int
    resize: Resize


def _stat(path: str) -> dict[str, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise VideoError("file not found") from None
    return {"source_bytes": st.st_size, "source_mtime_ns": st.st_mtime_ns}


def video_recipe(video: Video, backend: FlowBackend | None, settings: Settings) -> dict:
    """Everything a computed video's files depend on (a finished video made by another recipe is redone)."""
    return {"layout": LAYOUT, "source": video.source, **_stat(video.source), "step": settings.step,
            "bound": float(settings.bound), "quality": settings.quality,
            "resize": [settings.resize.width, settings.resize.height, settings.resize.short],
            "flow_backend": backend.name if backend is not None and settings.step else None}


def shard_recipe(video: Video) -> dict:
    """What a video exported from a shard depends on: the shard file."""
    return {"layout": LAYOUT, "shard": video.source, **_stat(video.source)}


def finished(folder: Path, recipe: dict) -> dict | None:
    """The ``.done`` record of a complete folder made by ``recipe``, else None."""
    try:
        done = json.loads((folder / DONE).read_text())
    except (OSError, ValueError):
        return None
    return done if done.get("recipe") == recipe else None


Writer = Callable[[Path, Callable[[int, int], None]], tuple[int, int, list[int]]]


def build(folder: Path, recipe: dict, write: Writer, progress: Callable[[int, int], None]) -> dict:
    """Write a video's folder with ``write(tmp, progress) -> (frames, flows, positions of frames dropped)`` under a
    temporary name, then rename it.

    A complete folder of another recipe is replaced only once the new one is complete.
    """
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    try:
        tmp.mkdir(parents=True)
        frames, flows, lost = write(tmp, progress)
        done = {"recipe": recipe, "frames": frames, "flows": flows, "frames_dropped": lost}
        (tmp / DONE).write_text(json.dumps(done, sort_keys=True))
        if folder.exists():
            old = folder.with_name(f".{folder.name}.tmp{os.getpid()}old")
            os.rename(folder, old)
            os.rename(tmp, folder)
            shutil.rmtree(old)
        else:
            os.rename(tmp, folder)
    except OSError as e:
        if not _refused(e, folder.parent):
            raise
        raise write_error(e, folder) from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return done


def _refused(e: OSError, out: Path) -> bool:
    """Whether ``e`` is the output folder refusing a write (disk full, quota, read-only, file too large; permission
    only on a path in ``out``: a source file that cannot be read stays that video's failure)."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG):
        return True
    return e.errno in (errno.EACCES, errno.EPERM) and e.filename is not None and Path(e.filename).is_relative_to(out)


def _write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise VideoError(f"JPEG encoding failed for {path.name}")
    path.write_bytes(buf.tobytes())


def compute(video: Video, backend: FlowBackend | None, settings: Settings) -> Writer:
    """A writer of a video's frames and flow: decode, resize, write each frame, flow in batches of pairs."""
    info = probe(video.source)
    size = settings.resize.size(info.height, info.width)
    step, s = settings.step, abs(settings.step)

    def write(folder: Path, progress: Callable[[int, int], None]) -> tuple[int, int, list[int]]:
        frames = flows = 0
        grey: list[np.ndarray] = []
        positions = []
        for position, frame in iter_frames(video.source, size):
            positions.append(position)
            _write_jpeg(folder / image_name("img_", START_INDEX + frames), frame, settings.quality)
            frames += 1
            if s:
                grey.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            if s and len(grey) == PAIRS_PER_CALL + s:
                flows += _write_flow(folder, grey, backend, settings, flows)
                grey = grey[-s:]
                progress(frames, flows)
        if s and len(grey) > s:
            flows += _write_flow(folder, grey, backend, settings, flows)
        if frames <= s:
            raise VideoError(f"only {frames} decodable frame(s): no flow at step {step} can be computed")
        return frames, flows, dropped(np.array(positions)).tolist()

    return write


def _write_flow(folder: Path, grey: list[np.ndarray], backend: FlowBackend, settings: Settings, done: int) -> int:
    """Flow of the pairs (t, t + step) in ``grey`` (the first ``done`` fields are written); returns how many."""
    s = abs(settings.step)
    frames = np.stack(grey)
    first, last = (frames[:-s], frames[s:]) if settings.step > 0 else (frames[s:], frames[:-s])
    q = quantize_flow(normalize(backend.compute(first, last), settings.bound))
    offset = done + START_INDEX + (s if settings.step < 0 else 0)  # the number of the pair's first frame
    for c, axis in enumerate("xy"):
        prefix = flow_prefix(settings.step, axis)
        for i in range(len(q)):
            _write_jpeg(folder / image_name(prefix, offset + i), q[i, :, :, c], settings.quality)
    return len(q)


def decode_resized(path: str, resize: tuple[int, int, int]) -> Decoded:
    """The pipeline's decoder at the size that ``Resize(*resize)`` gives this video (a worker process runs it).

    (The core hands every video the same second argument: here the resize rule, not a size.)
    """
    info = probe(path)
    return decode(path, Resize(*resize).size(info.height, info.width))


def write_decoded(frames: np.ndarray, positions: np.ndarray, flow: np.ndarray, settings: Settings) -> Writer:
    """A writer of frames (at ``positions`` in the video) and step-1 flow the pipeline's core computed."""

    def write(folder: Path, progress: Callable[[int, int], None]) -> tuple[int, int, list[int]]:
        for t, frame in enumerate(frames):
            _write_jpeg(folder / image_name("img_", START_INDEX + t), frame, settings.quality)
        q = quantize_flow(normalize(flow, settings.bound))
        for t in range(len(q)):
            for c, axis in enumerate("xy"):
                _write_jpeg(folder / image_name(flow_prefix(1, axis), START_INDEX + t), q[t, :, :, c],
                            settings.quality)
        return len(frames), len(q), dropped(positions).tolist()

    return write


def copy_shard(video: Video) -> Writer:
    """A writer of a shard's frames and flow as files: its JPEGs copied byte for byte (nothing re-encoded),
    but for flow in another encoding (an import), written in this layout's (at the shard's JPEG quality)."""

    def write(folder: Path, progress: Callable[[int, int], None]) -> tuple[int, int, list[int]]:
        with Shard(video.source) as shard:
            for t in range(shard.frames):
                (folder / image_name("img_", START_INDEX + t)).write_bytes(shard.rgb_bytes(t).tobytes())
            quality = int(shard.attrs.get("jpeg_quality", 90))
            for t in range(shard.frames - 1):
                names = [folder / image_name(flow_prefix(1, axis), START_INDEX + t) for axis in "xy"]
                if shard.flow_table is None:
                    for name, jpeg in zip(names, shard.flow_bytes(t, 1)):
                        name.write_bytes(jpeg.tobytes())
                else:
                    for name, plane in zip(names, shard.flow_planes(t, 1)):
                        _write_jpeg(name, plane, quality)
            return shard.frames, shard.frames - 1, json.loads(shard.attrs.get("frames_dropped", "[]"))

    return write
