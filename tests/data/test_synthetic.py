"""The embedded dataset: isoluminance, motion, layout, ceilings that hold by construction."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from twostream.data.synthetic import SyntheticSpec, class_names, generate, grey, isoluminant, render
from twostream.data.video import read_frames

SPEC = SyntheticSpec(clips_per_group=1, frames=6, height=32, width=32, object_size=(8, 8))


@pytest.mark.parametrize("hue", [0, 120, 240, 60])
def test_isoluminant_colours_are_exact(hue: int) -> None:
    luma = np.arange(110, 191, dtype=np.uint8)[None]
    px = isoluminant(luma, hue)
    assert np.array_equal(cv2.cvtColor(px, cv2.COLOR_BGR2GRAY), luma)
    assert np.abs(px.astype(int) - luma[..., None]).max() > 30  # really coloured


def test_colour_is_invisible_in_grey() -> None:
    """Two classes that differ only in the moving square's colour give identical grey videos."""
    spec = SyntheticSpec()
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
    spec = SyntheticSpec(speed=(3.0, 3.0))
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
