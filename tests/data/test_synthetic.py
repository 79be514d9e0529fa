"""The embedded dataset: isoluminance, motion, layout, ceilings that hold by construction."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from twostream.data.synthetic import Generator, class_names, generate, grey, hues, isoluminant, render
from twostream.data.video import read_frames

# config.yaml's synthetic section (the schema's defaults)
DEFAULT = dict(colours=3, directions=4, groups=3, clips_per_group=30, val_clips=10, frames=12, height=48, width=48, seed=0)


def synthetic(**values) -> Generator:
    return Generator(**{**DEFAULT, **values})


SPEC = synthetic(clips_per_group=1, frames=6, height=32, width=32, object_size=(8, 8))


@pytest.mark.parametrize("hue", [0, 120, 240, 60])
def test_isoluminant_colours_are_exact(hue: int) -> None:
    luma = np.arange(110, 191, dtype=np.uint8)[None]
    px = isoluminant(luma, hue)
    assert np.array_equal(cv2.cvtColor(px, cv2.COLOR_BGR2GRAY), luma)
    assert np.abs(px.astype(int) - luma[..., None]).max() > 30  # really coloured


def test_colour_is_invisible_in_grey() -> None:
    """Two classes that differ only in the moving square's colour give identical grey videos."""
    spec = synthetic()
    a = render(spec, 1, np.random.default_rng(7))  # colour 0, direction 1
    b = render(spec, 1 + spec.directions, np.random.default_rng(7))  # colour 1, direction 1
    assert not np.array_equal(a, b)
    assert np.array_equal(grey(a), grey(b))


def _shift(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Circular (dy, dx) moving ``a`` onto ``b``, by phase correlation (wrap-around included)."""
    corr = np.fft.ifft2(np.conj(np.fft.fft2(a)) * np.fft.fft2(b)).real
    dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
    h, w = a.shape
    return (dy + h // 2) % h - h // 2, (dx + w // 2) % w - w // 2


def test_one_square_moves_in_the_class_direction() -> None:
    spec = synthetic(speed=(3.0, 3.0), height=64, width=64)  # a 16-px square covers < 10 % of the frame
    for direction, (dy, dx) in enumerate([(0, 3), (3, 0), (0, -3), (-3, 0)]):
        video = render(spec, direction, np.random.default_rng(direction)).astype(float)
        static = np.median(video, axis=0)
        moving = np.abs(video - static).sum(axis=-1)  # only the moving square differs from the median
        assert 0 < (moving[0] > 0).mean() < 0.1
        assert _shift(moving[0], moving[1]) == (dy, dx)


def test_layout_and_splits(tmp_path) -> None:
    generate(SPEC, tmp_path / "ds")
    names = class_names(SPEC)
    assert len(names) == 12
    assert (tmp_path / "ds/splits/classInd.txt").read_bytes().startswith(b"1 Hue000Dir000\r\n")
    for k in (1, 2, 3):
        train = (tmp_path / f"ds/splits/trainlist0{k}.txt").read_bytes().decode().split("\r\n")[:-1]
        test = (tmp_path / f"ds/splits/testlist0{k}.txt").read_bytes().decode().split("\r\n")[:-1]
        assert len(train) == 24 and len(test) == 12
        assert all(f"_g0{k}_" in line for line in test)
        assert not {t.split()[0] for t in train} & set(test)
    video = tmp_path / "ds/videos" / names[5] / f"v_{names[5]}_g02_c01.avi"
    frames = read_frames(video)
    assert frames.shape == (6, 32, 32, 3)
    # Lossless: the decoded video is exactly what was rendered.
    rendered = render(SPEC, 5, np.random.default_rng([SPEC.seed, 5, 2, 1]))
    assert np.array_equal(frames, rendered)
    assert not (tmp_path / "ds.tmp").exists()


def test_generation_is_reproducible(tmp_path) -> None:
    generate(SPEC, tmp_path / "a")
    generate(SPEC, tmp_path / "b")
    for f in sorted((tmp_path / "a").rglob("*.avi"))[:5]:
        assert np.array_equal(read_frames(f), read_frames(tmp_path / "b" / f.relative_to(tmp_path / "a")))


def _visible_pixels(video: np.ndarray, spec: Generator, colour: int) -> np.ndarray:
    """Per frame: pixels of the square whose hue is ``colour`` (the background is grey, B = G = R)."""
    coloured = ~((video[..., 0] == video[..., 1]) & (video[..., 1] == video[..., 2]))
    hue = cv2.cvtColor(video.reshape(-1, 1, 3), cv2.COLOR_BGR2HSV_FULL)[:, 0, 0].reshape(video.shape[:3]).astype(float) * 360 / 256
    distance = np.abs((hue[..., None] - np.array(hues(spec)) + 180) % 360 - 180)
    return (coloured & (distance.argmin(axis=-1) == colour)).sum(axis=(1, 2))


def test_no_single_frame_statistic_tells_which_square_moves() -> None:
    """Over many videos, the moving and the still square look alike frame by frame.

    Small frames and large squares make them overlap often; where they do, the square drawn
    whole (on top) must be the moving one as often as the still one, and the visible areas of
    the two must have the same distribution (the moving square always on top failed this).
    """
    spec = synthetic(frames=6, height=32, width=32, object_size=(10, 10))
    full = 10 * 10
    moving_whole = still_whole = 0
    moving_area, still_area = [], []
    for i in range(240):
        label = i % spec.num_classes
        colour = label // spec.directions
        video = render(spec, label, np.random.default_rng([99, i]))
        others = [c for c in range(spec.colours) if c != colour]
        moving = _visible_pixels(video, spec, colour)
        present = [c for c in others if _visible_pixels(video, spec, c).any()]
        assert len(present) == 1  # exactly one still square, of another colour
        still = _visible_pixels(video, spec, present[0])
        overlap = moving + still < 2 * full
        moving_whole += int(np.sum(overlap & (moving == full)))
        still_whole += int(np.sum(overlap & (still == full)))
        moving_area += moving.tolist()
        still_area += still.tolist()
    overlaps = moving_whole + still_whole
    assert overlaps > 100  # the check has power
    assert abs(moving_whole - overlaps / 2) < 4 * np.sqrt(overlaps / 4)  # a fair coin: 4 sigma
    moving_area, still_area = np.sort(moving_area), np.sort(still_area)
    assert moving_area.mean() == pytest.approx(still_area.mean(), abs=1.5)
    # Same distribution of visible area: the largest gap between the two empirical CDFs is small (KS).
    grid = np.arange(full + 1)
    gap = np.abs(np.searchsorted(moving_area, grid, "right") - np.searchsorted(still_area, grid, "right")).max()
    assert gap / len(moving_area) < 1.95 * np.sqrt(2 / len(moving_area))  # two-sample KS at the 0.1 % level


def test_validation_split_is_disjoint_from_train_and_test(tmp_path) -> None:
    spec = synthetic(clips_per_group=1, val_clips=2, frames=4, height=16, width=16, object_size=(4, 4))
    generate(spec, tmp_path / "ds")
    folder = tmp_path / "ds/splits"
    val = set((folder / "vallist01.txt").read_text().split())
    assert len(val) == 2 * spec.num_classes and all("_g00_" in v for v in val)
    for k in (1, 2, 3):
        assert (folder / f"vallist0{k}.txt").read_text().split() == sorted(val, key=list((folder / "vallist01.txt").read_text().split()).index)
        listed = {line.split()[0] for role in ("train", "test") for line in (folder / f"{role}list0{k}.txt").read_text().splitlines()}
        assert not val & listed
    assert len(list((tmp_path / "ds/videos").rglob("*_g00_*.avi"))) == 2 * spec.num_classes


def test_the_shipped_default_reads_to_six_points(repo) -> None:
    """config.yaml's dataset is DEFAULT, and its split-1 test list bounds the 95 % interval at 50 % to +-6 points."""
    import yaml

    from twostream.eval.intervals import wilson

    section = yaml.safe_load((repo / "config.yaml").read_text())["datasets"]["synthetic"]["synthetic"]
    height, width = section.pop("size")
    assert {**section, "height": height, "width": width} == DEFAULT
    tested = [g for g in range(1, DEFAULT["groups"] + 1) if (g - 1) % 3 == 0]  # split 1's test groups
    videos = DEFAULT["colours"] * DEFAULT["directions"] * DEFAULT["clips_per_group"] * len(tested)
    low, high = wilson(videos / 2, videos)
    assert (high - low) / 2 <= 6.0, f"{videos} test videos: +-{(high - low) / 2:.1f} points at 50 %"
