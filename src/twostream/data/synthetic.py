"""The embedded ``synthetic`` dataset: a two-stream fusion problem that needs binding.

Each video shows two textured squares of *isoluminant* colours on a static grey
texture. One square moves at constant velocity in one of D directions; the other
stays still. The class is (colour of the moving square, direction). Greyscale frames
are identical whatever the colours (exactly, under OpenCV's BGR->grey conversion), so
flow cannot see colour; a single RGB frame shows both colours but not which one
moves, nor where to. Positions wrap around the frame (a torus), so where an object
is in a frame says nothing about its direction. Ceilings: RGB <= 1/(2D), flow <=
1/colours, late score fusion <= 1/2; binding colour and motion at one place -> 1.

No single frame tells which square moves: both squares share size and texture, both
positions are uniform on the torus in every frame, the colours are drawn symmetrically,
and where they overlap, which one is drawn on top is a coin flip per video, independent
of which one moves (the moving square always on top was a cue; ``tests/data`` checks the
per-frame statistics of the two squares are identically distributed).

Written in UCF-101's layout: ``videos/<Class>/v_<Class>_gGG_cCC.avi`` (lossless
FFV1) and ``splits/{classInd,trainlist0k,testlist0k,vallist0k}.txt`` (CRLF), split k
testing the groups g >= 1 with (g - 1) % 3 == k - 1. Group 0 (``val_clips`` videos per
class) is the validation split of every k: for tuning, in neither train nor test.
"""

from __future__ import annotations

import colorsys
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

SPLITS = 3
VAL_GROUP = 0  # the validation videos' group: never in a split's train or test list


@dataclass(frozen=True)
class Generator:
    """The generator's settings: a dataset's ``synthetic:`` section (defaults in the config schema), then the
    look of the squares, which the config does not set."""

    colours: int
    directions: int
    groups: int
    clips_per_group: int
    val_clips: int  # validation videos per class (group 0)
    frames: int
    height: int
    width: int
    seed: int
    object_size: tuple[int, int] = (12, 16)  # side of the squares, px (min, max)
    speed: tuple[float, float] = (2.0, 3.0)  # px per frame (min, max)
    fps: float = 25.0

    @property
    def num_classes(self) -> int:
        return self.colours * self.directions


def hues(spec: Generator) -> list[int]:
    return [round(360 * c / spec.colours) for c in range(spec.colours)]


def angles(spec: Generator) -> list[int]:
    return [round(360 * d / spec.directions) for d in range(spec.directions)]


def class_names(spec: Generator) -> list[str]:
    """Class index -> name, e.g. ``Hue120Dir090`` (hue of the moving square, direction in degrees, y down)."""
    return [f"Hue{h:03d}Dir{a:03d}" for h in hues(spec) for a in angles(spec)]


def grey(bgr: np.ndarray) -> np.ndarray:
    """OpenCV's BGR->grey conversion (the one flow extraction uses) on (..., 3) arrays."""
    return cv2.cvtColor(bgr.reshape(-1, 1, 3), cv2.COLOR_BGR2GRAY).reshape(bgr.shape[:-1])


def isoluminant(luma: np.ndarray, hue: float, chroma: float = 70.0) -> np.ndarray:
    """BGR pixels of the given hue whose OpenCV grey value equals ``luma`` exactly."""
    rgb = np.array(colorsys.hsv_to_rgb(hue / 360.0, 1.0, 1.0))
    direction = rgb - (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])  # zero-luma chroma vector
    direction /= np.abs(direction).max()
    px = np.clip(np.rint(luma[..., None].astype(np.float64) + chroma * direction), 0, 255)
    out = px[..., ::-1].astype(np.int16)  # BGR
    # Grey is monotonic in green: nudge green until OpenCV's grey value is exactly `luma`
    # (OpenCV's SIMD paths round differently from the textbook fixed-point formula).
    for _ in range(8):
        error = grey(out.clip(0, 255).astype(np.uint8)).astype(np.int16) - luma
        if not error.any():
            break
        out[..., 1] -= np.sign(error)
    out = out.clip(0, 255).astype(np.uint8)
    if not np.array_equal(grey(out), luma):
        raise ValueError(f"hue {hue}: luma range too wide for chroma {chroma}; lower the chroma")
    return out


def _texture(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth random texture in [0, 1]."""
    noise = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), sigma)
    lo, hi = noise.min(), noise.max()
    return (noise - lo) / max(hi - lo, 1e-6)


def _paste(frame: np.ndarray, patch: np.ndarray, top: float, left: float) -> None:
    """Paste ``patch`` at integer-rounded (top, left) with wrap-around (torus)."""
    h, w = frame.shape[:2]
    rows = (np.arange(patch.shape[0]) + int(round(top))) % h
    cols = (np.arange(patch.shape[1]) + int(round(left))) % w
    frame[np.ix_(rows, cols)] = patch


def render(spec: Generator, label: int, rng: np.random.Generator) -> np.ndarray:
    """One video of class ``label`` as (T, H, W, 3) BGR uint8."""
    colour, direction = divmod(label, spec.directions)
    other = (colour + 1 + rng.integers(spec.colours - 1)) % spec.colours
    size = int(rng.integers(spec.object_size[0], spec.object_size[1] + 1))
    speed = rng.uniform(*spec.speed)
    angle = np.deg2rad(angles(spec)[direction])
    velocity = speed * np.array([np.sin(angle), np.cos(angle)])  # (dy, dx), y pointing down

    background = (20 + 80 * _texture(rng, (spec.height, spec.width), 2.0)).astype(np.uint8)
    luma = (110 + 80 * _texture(rng, (size, size), 1.5)).astype(np.uint8)  # same texture for both squares
    moving = isoluminant(luma, hues(spec)[colour])
    still = isoluminant(luma, hues(spec)[other])
    start = rng.uniform((0, 0), (spec.height, spec.width))
    still_at = rng.uniform((0, 0), (spec.height, spec.width))

    moving_on_top = rng.random() < 0.5  # where the squares overlap: not a cue to which one moves

    video = np.empty((spec.frames, spec.height, spec.width, 3), np.uint8)
    for t in range(spec.frames):
        frame = np.repeat(background[..., None], 3, axis=2)
        squares = [(still, still_at), (moving, start + t * velocity)]
        for patch, at in squares if moving_on_top else squares[::-1]:
            _paste(frame, patch, *at)
        video[t] = frame
    return video


def write_video(path: Path, video: np.ndarray, fps: float) -> None:
    """Write frames losslessly (FFV1 in AVI)."""
    h, w = video.shape[1:3]
    writer = cv2.VideoWriter(os.fspath(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write FFV1 video")
    for frame in video:
        writer.write(frame)
    writer.release()


def video_name(cls: str, group: int, clip: int) -> str:
    return f"{cls}/v_{cls}_g{group:02d}_c{clip:02d}.avi"


def generate(spec: Generator, root: str | os.PathLike) -> None:
    """Write the dataset under ``root`` (built in a temporary folder, then renamed)."""
    root = Path(root)
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    names = class_names(spec)
    videos = [(label, g, c) for label in range(len(names)) for g in range(1, spec.groups + 1)
              for c in range(1, spec.clips_per_group + 1)]
    videos += [(label, VAL_GROUP, c) for label in range(len(names)) for c in range(1, spec.val_clips + 1)]
    for label, g, c in tqdm(videos, desc="synthetic videos", unit="video"):
        rng = np.random.default_rng([spec.seed, label, g, c])
        path = tmp / "videos" / video_name(names[label], g, c)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, render(spec, label, rng), spec.fps)
    _write_splits(tmp / "splits", names, videos)
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp, root)


def _write_splits(folder: Path, names: list[str], videos: list[tuple[int, int, int]]) -> None:
    folder.mkdir(parents=True)
    lines = [f"{i + 1} {n}" for i, n in enumerate(names)]
    (folder / "classInd.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    val = [video_name(names[label], g, c) for label, g, c in videos if g == VAL_GROUP]
    split = [(label, g, c) for label, g, c in videos if g != VAL_GROUP]
    for k in range(1, SPLITS + 1):
        train = [f"{video_name(names[label], g, c)} {label + 1}" for label, g, c in split if (g - 1) % SPLITS != k - 1]
        test = [video_name(names[label], g, c) for label, g, c in split if (g - 1) % SPLITS == k - 1]
        for role, lines in (("train", train), ("test", test), ("val", val)):
            if lines:
                (folder / f"{role}list0{k}.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode())
