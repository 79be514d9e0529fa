"""Reading one video's rawframes folder back: its frames and flow as the JPEG files a shard stores.

JPEG files are kept as they are (their bytes are what the shard stores); each is checked without
decoding it (the markers up to the scan header, and an end-of-image marker after the scan) and its
size read from its frame header. Other formats (PNG, BMP, ...) are decoded and written as JPEG.

A folder's defects are explained and the usable part is kept (``Folder.notes``): frames are the run
numbered from the first number without a gap, flow fields likewise (field t is the flow from frame t
to t + 1, so T frames need T - 1 fields: extra fields are left out, missing ones cut the frames); the
first unreadable, truncated or differently sized file cuts the video there. A folder with fewer than
two usable frames, or whose flow images are not the size of its frames, is a VideoError.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from twostream.data.rawframes.templates import Naming, Template, listing
from twostream.data.video import VideoError

JPEG_SOI, JPEG_EOI = b"\xff\xd8", b"\xff\xd9"
# start-of-frame markers (SOF0..SOF15 but DHT, JPG and DAC): their segment holds the image size
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])  # markers without a length (TEM, RSTn)


class BadImage(ValueError):
    """An image file that cannot be used (the message says why)."""


def jpeg_size(data: bytes) -> tuple[int, int, int]:
    """(height, width, components) of a JPEG file from its frame header, without decoding it.

    BadImage for a file that is not a complete JPEG: no start marker, a segment running past the
    end, no frame header, or no end-of-image marker after the scan (a truncated file).
    """
    if len(data) < 4 or not data.startswith(JPEG_SOI):
        raise BadImage("empty file" if not data else "not a JPEG file")
    at, size = 2, None
    while True:
        while at < len(data) and data[at] == 0xFF and at + 1 < len(data) and data[at + 1] == 0xFF:
            at += 1  # fill bytes
        if at + 4 > len(data) or data[at] != 0xFF:
            raise BadImage("truncated or corrupt JPEG (bad segment before the scan)")
        marker = data[at + 1]
        if marker in STANDALONE:
            at += 2
            continue
        length = int.from_bytes(data[at + 2:at + 4], "big")
        if length < 2 or at + 2 + length > len(data):
            raise BadImage("truncated JPEG (a header segment runs past the end)")
        if marker in SOF_MARKERS:
            if length < 8:
                raise BadImage("corrupt JPEG frame header")
            size = (int.from_bytes(data[at + 5:at + 7], "big"), int.from_bytes(data[at + 7:at + 9], "big"),
                    data[at + 9])
        if marker == 0xDA:  # start of scan: the entropy-coded data follows
            if size is None or min(size[:2]) == 0:
                raise BadImage("JPEG without a frame size")
            if data.rfind(JPEG_EOI) < at + 2 + length:
                raise BadImage("truncated JPEG (no end-of-image marker)")
            return size
        at += 2 + length


@dataclass
class Folder:
    """A video folder read back: JPEG files of the usable frames and flow, and what was left out and why."""

    rgb: list[np.ndarray] = field(default_factory=list)  # frame t's JPEG file (1-D uint8)
    flow: list[np.ndarray] = field(default_factory=list)  # x_0, y_0, x_1, ...: 2 (T - 1) greyscale JPEG files
    size: tuple[int, int] = (0, 0)
    notes: list[str] = field(default_factory=list)
    transcoded: int = 0  # files that were not JPEG and were encoded here

    @property
    def frames(self) -> int:
        return len(self.rgb)


def numbers(names: list[str], template: Template) -> list[set[int]]:
    """The numbers present per axis (one set for frames, two for flow) among a folder's names."""
    found: list[set[int]] = [set(), set()] if template.flow else [set()]
    for name in names:
        m = template.number(name)
        if m is not None:
            found[m[0]].add(m[1])
    return found


def run_length(present: set[int], start: int) -> int:
    """How many consecutive numbers from ``start`` are present."""
    n = 0
    while start + n in present:
        n += 1
    return n


def count(folder: Path, naming: Naming) -> int:
    """How many frames a folder has from its first number without a gap (its files are not read)."""
    return run_length(numbers(listing(folder), naming.rgb)[0], naming.rgb_start)


def read_folder(folder: str | os.PathLike, naming: Naming, quality: int) -> Folder:
    """The usable frames and flow of one video's folder, with a note for each defect; VideoError if none are.

    ``quality``: the JPEG quality of files that are not JPEG (encoded here).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoError("folder not found" if not folder.exists() else "not a folder")
    names = listing(folder)
    out = Folder()
    frames = _planned(names, naming, out.notes)
    t = 0
    while t < frames:
        reason = _add(out, folder / naming.rgb.name(naming.rgb_start + t), False, quality)
        if reason is None and t + 1 < frames:
            for axis in (0, 1):
                reason = reason or _add(out, folder / naming.flow.name(naming.flow_start + t, axis), True, quality)
        if reason is not None:
            if reason.startswith("flow is") and t == 0:
                raise VideoError(reason)
            frames = t + 1 if len(out.rgb) > t else t  # a bad flow field keeps frame t, a bad frame does not
            out.notes.append(f"{reason}: cut to {frames} frame(s)")
            break
        t += 1
    del out.rgb[frames:], out.flow[2 * max(frames - 1, 0):]
    if frames < 2:
        raise VideoError("; ".join(out.notes) + ": fewer than 2 usable frames, no flow")
    if out.transcoded:
        out.notes.append(f"{out.transcoded} non-JPEG image(s) encoded as JPEG (quality {quality})")
    return out


def _planned(names: list[str], naming: Naming, notes: list[str]) -> int:
    """How many frames the numbering allows (before any file is read); notes on gaps and counts."""
    rgb = numbers(names, naming.rgb)[0]
    xy = numbers(names, naming.flow)
    frames = run_length(rgb, naming.rgb_start)
    first = naming.rgb.name(naming.rgb_start)
    if not frames:
        raise VideoError(f"no {first}" + (f" (frames numbered from {min(rgb)})" if rgb else
                                          f" (no file named as {naming.rgb.text!r})"))
    if rgb and max(rgb) >= naming.rgb_start + frames:
        notes.append(f"gap in the frame numbers: {naming.rgb.name(naming.rgb_start + frames)} missing "
                     f"(files up to {naming.rgb.name(max(rgb))}): frames after it left out")
    fields = []
    for axis, present in enumerate(xy):
        n = run_length(present, naming.flow_start)
        if not n:
            first = naming.flow.name(naming.flow_start, axis)
            raise VideoError(f"no {first}" + (f" (flow numbered from {min(present)})" if present else
                                              f" (no file named as {naming.flow.text!r})"))
        if max(present) >= naming.flow_start + n:
            notes.append(f"gap in the flow numbers: {naming.flow.name(naming.flow_start + n, axis)} missing: "
                         f"flow after it left out")
        fields.append(n)
    usable = min(frames, min(fields) + 1)
    counts = f"{fields[0]} x and {fields[1]} y flow fields for {frames} frames"
    if usable < frames:
        notes.append(f"{counts}: cut to {usable} frames")
    elif max(fields) >= usable:
        notes.append(f"{counts}: T frames have T - 1 fields, the fields after the {usable - 1}th left out")
    return usable


def _add(out: Folder, path: Path, flow: bool, quality: int) -> str | None:
    """Read one file into ``out`` (checked, or encoded as JPEG); the reason it cannot be used, else None."""
    try:
        data = path.read_bytes()
    except OSError as e:
        return f"{path.name}: unreadable ({e.strerror})"
    try:
        if data[:2] == JPEG_SOI:
            h, w, _ = jpeg_size(data)
            blob = np.frombuffer(data, np.uint8)
        else:
            (h, w), blob = _transcode(data, flow, quality)
            out.transcoded += 1
    except BadImage as e:
        return f"{path.name}: {e}"
    if not out.rgb and not flow:
        out.size = (h, w)
    elif (h, w) != out.size:
        what = "flow is" if flow else "frame is"
        return f"{what} {w}x{h} in {path.name}, frames are {out.size[1]}x{out.size[0]}"
    (out.flow if flow else out.rgb).append(blob)
    return None


def _transcode(data: bytes, flow: bool, quality: int) -> tuple[tuple[int, int], np.ndarray]:
    """((height, width), JPEG file) of an image in another format; BadImage if it does not decode."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise BadImage("empty file" if not data else "unreadable image")
    if image.dtype != np.uint8:
        raise BadImage(f"{image.dtype} pixels: rawframes are 8-bit")
    if flow and image.ndim == 3:
        image = image[..., 0] if image.shape[2] in (1, 3, 4) and _grey(image) else None
        if image is None:
            raise BadImage("colour flow image: rawframes flow is one grey plane per axis")
    elif not flow and image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif not flow and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise BadImage("JPEG encoding failed")
    return image.shape[:2], buf.ravel()


def _grey(image: np.ndarray) -> bool:
    return image.shape[2] == 1 or bool((image[..., 0] == image[..., 1]).all() and (image[..., 0] == image[..., 2]).all())

