"""Video decoding with OpenCV: probing and frame iteration, resized on read."""

from __future__ import annotations

import errno
import math
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

# FFmpeg's own complaints (one per bad frame, naming no file) stay quiet: each video's problem is reported as one
# line naming it. OPENCV_FFMPEG_LOGLEVEL=16 (errors) in the environment shows them again.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class VideoError(Exception):
    """A video that cannot be opened or decoded; the message names the reason."""


@dataclass(frozen=True)
class VideoInfo:
    frames: int  # as reported by the container (may differ from what decodes); 0: unknown
    fps: float  # 0.0: unknown
    width: int
    height: int


MAX_FRAMES = 10**8  # more than a year at 30 fps: no real container count
MAX_FPS = 10_000.0


def plausible_frames(count: float) -> int:
    """A container's frame count, or 0 (unknown) for impossible ones (negative, NaN, -2**63, huge)."""
    return int(count) if math.isfinite(count) and 0 < count <= MAX_FRAMES else 0


def plausible_fps(fps: float) -> float:
    """A container's frame rate, or 0.0 (unknown) for impossible ones."""
    return float(fps) if math.isfinite(fps) and 0 < fps <= MAX_FPS else 0.0


def file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be a video file, or None for a non-empty regular file this process may read.

    Checked before OpenCV opens it: opening a FIFO would block, a device could be read forever.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return f"broken symbolic link (target {os.fsdecode(os.readlink(path))!r} is missing)"
        return "file not found"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop (the link leads back to itself)"
        return f"cannot read the file ({e.strerror})"
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    for test, kind in kinds:
        if test(st.st_mode):
            return f"{kind}, not a video file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if not os.access(path, os.R_OK):
        return "not readable (permission denied)"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    return None


def _open(path: str | os.PathLike) -> cv2.VideoCapture:
    problem = file_problem(path)
    if problem is not None:
        raise VideoError(problem)
    cap = cv2.VideoCapture(os.fspath(path))
    if not cap.isOpened():
        raise VideoError(f"cannot open ({_unopenable(path)})")
    return cap


def _unopenable(path: str | os.PathLike) -> str:
    """Why a file FFmpeg cannot open is not a video, as far as its first bytes tell."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head[4:8] == b"ftyp" and not _has_box(path, b"moov"):
        return "an MP4/MOV file without its index (moov box): a download or copy that did not finish?"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the video: fetch the videos with git lfs pull"
    if text[:1] == b"<" and b"html" in text[:100].lower():
        return "an HTML page, not a video: a failed download?"
    if text and all(32 <= b < 127 or b in b"\t\r\n" for b in text[:200]):
        return f"a text file, not a video (it starts {text[:40].decode('ascii').splitlines()[0]!r})"
    return "not a video or unsupported codec"


def _has_box(path: str | os.PathLike, kind: bytes) -> bool:
    """Whether an MP4/MOV file has a top-level box of this type (its box headers walked, not its data read)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        at = 0
        while at + 8 <= size:
            f.seek(at)
            header = f.read(16)
            length, box = int.from_bytes(header[:4], "big"), header[4:8]
            if box == kind:
                return True
            if length == 1 and len(header) == 16:
                length = int.from_bytes(header[8:16], "big")
            if length < 8:
                return False
            at += length
    return False


MAX_FAILED_IN_A_ROW = 250  # x264's default keyframe interval: a corrupt keyframe costs at most its group


def _reads(cap: cv2.VideoCapture) -> Iterator[tuple[int, np.ndarray]]:
    """(position, frame) of every frame that decodes, position counting every read from 0.

    A failed read is not the end: reading goes on up to the container's frame count (unknown: until
    MAX_FAILED_IN_A_ROW failures in a row), or until that many fail in a row, so a bad frame costs that
    frame (a bad keyframe, the frames that depend on it), not the rest of the video.
    """
    count = plausible_frames(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    position = failed = 0
    while True:
        ok, frame = cap.read()
        if ok and frame is not None:
            failed = 0
            yield position, frame
            del frame  # before the next read: one full-size frame in memory at a time
        else:
            failed += 1
            if failed >= MAX_FAILED_IN_A_ROW or (count and position + 1 >= count):
                return
        position += 1


def probe(path: str | os.PathLike) -> VideoInfo:
    """Container metadata, after checking that a frame decodes (the first that does: bad leading frames are skipped)."""
    cap = _open(path)
    try:
        first = next(_reads(cap), None)
        if first is None:
            raise VideoError("no decodable frame")
        frame = first[1]
        info = VideoInfo(
            frames=plausible_frames(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
            fps=plausible_fps(cap.get(cv2.CAP_PROP_FPS)),
            width=frame.shape[1],
            height=frame.shape[0],
        )
    finally:
        cap.release()
    return info


def iter_frames(path: str | os.PathLike, size: tuple[int, int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (position, frame) of each frame that decodes: BGR uint8, resized to ``size`` = (height, width) if
    given; position is the frame's 0-based place in the video, counting frames that fail (see ``_reads``).

    Frames are resized one at a time, so a large video never sits in memory whole.
    """
    cap = _open(path)
    try:
        for position, frame in _reads(cap):
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            if size is not None and frame.shape[:2] != tuple(size):
                interp = cv2.INTER_AREA if frame.shape[0] > size[0] else cv2.INTER_LINEAR
                frame = cv2.resize(frame, (size[1], size[0]), interpolation=interp)
            yield position, frame
    finally:
        cap.release()


def read_frames(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """The frames that decode (``iter_frames``) as a (T, H, W, 3) BGR uint8 array; VideoError if none does."""
    frames = [frame for _, frame in iter_frames(path, size)]
    if not frames:
        raise VideoError("no decodable frame")
    return np.stack(frames)


def dropped(positions: np.ndarray) -> np.ndarray:
    """The positions of the frames that failed before the last one that decoded."""
    if not len(positions):
        return np.zeros(0, np.int64)
    return np.setdiff1d(np.arange(int(positions[-1]) + 1), positions)


def describe_dropped(lost: np.ndarray | list[int], decoded: int) -> str:
    """A note for a video kept without the frames that fail: how many, which (1-based), how many are kept."""
    if not len(lost):
        return ""
    runs, start = [], None
    for k, frame in enumerate(lost):
        if start is None:
            start = frame
        if k + 1 == len(lost) or lost[k + 1] != frame + 1:
            runs.append(f"{start + 1}" if start == frame else f"{start + 1}-{frame + 1}")
            start = None
    shown = ", ".join(runs[:5]) + (f" and {len(runs) - 5} more runs" if len(runs) > 5 else "")
    return f"dropped {len(lost)} undecodable frame{'s' * (len(lost) > 1)} (number {shown}, from 1; kept: the {decoded} that decode)"
