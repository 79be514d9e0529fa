"""``twostream flow IMG0 IMG1 OUT.flo``: end to end, and one-line errors on bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from twostream.cli import main
from twostream.flow.flo import read_flo

SHIFT = (1.3, -0.7)


@pytest.fixture
def images(tmp_path, translated_texture):
    """A translated texture pair, written in colour as PNG and BMP (the command converts to grey)."""
    prev, nxt = translated_texture(96, 120, SHIFT)
    paths = tmp_path / "a.png", tmp_path / "b.bmp"
    for path, grey in zip(paths, (prev, nxt)):
        cv2.imwrite(str(path), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    return paths


def test_writes_the_raw_flow_of_a_pair(images, tmp_path, capsys):
    out = tmp_path / "out.flo"
    assert (
        main(["flow", str(images[0]), str(images[1]), str(out), "--backend", "torch", "--device", "cpu"]) == 0
    )
    flow = read_flo(out)
    assert flow.shape == (96, 120, 2)
    np.testing.assert_allclose(np.median(flow.reshape(-1, 2), axis=0), SHIFT, atol=0.05)
    assert "torch: 120x96 flow ->" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.bmp", "out.flo"]


def error_of(argv: list[str], capsys) -> str:
    """Run the command, expecting failure; its single stderr line."""
    assert main(argv) != 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    return lines[0]


def test_missing_image(images, tmp_path, capsys):
    line = error_of(["flow", str(tmp_path / "nope.png"), str(images[1]), str(tmp_path / "o.flo")], capsys)
    assert line == f"twostream flow: error: {tmp_path / 'nope.png'}: file not found"


@pytest.mark.parametrize(
    "content, reason", [(b"", "empty file (0 bytes)"), (b"not an image", "cannot decode")]
)
def test_unreadable_image(images, tmp_path, capsys, content, reason):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    line = error_of(["flow", str(images[0]), str(bad), str(tmp_path / "o.flo")], capsys)
    assert line.startswith(f"twostream flow: error: {bad}: {reason}")
    assert not (tmp_path / "o.flo").exists()


def test_images_of_different_sizes(images, tmp_path, capsys):
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((50, 60), np.uint8))
    line = error_of(["flow", str(images[0]), str(small), str(tmp_path / "o.flo")], capsys)
    assert line == f"twostream flow: error: {small}: size 60x50 differs from {images[0]} (120x96)"


def test_unknown_device(images, tmp_path, capsys):
    line = error_of(["flow", *map(str, images), str(tmp_path / "o.flo"), "--device", "tpu"], capsys)
    assert line == "twostream flow: error: unknown device 'tpu'; use auto, cpu, cuda or cuda:N"


def test_unwritable_output(images, tmp_path, capsys):
    out = tmp_path / "missing" / "o.flo"
    line = error_of(["flow", *map(str, images), str(out), "--backend", "opencv-cpu"], capsys)
    assert line == f"twostream flow: error: {out}: cannot write (No such file or directory)"


def test_pairs_list_computes_every_good_line_and_names_the_bad_ones(images, tmp_path, capsys):
    listing = tmp_path / "pairs.txt"
    a, b = map(str, images)
    listing.write_text(
        f"# img0 img1 out\n{a} {b} {tmp_path / 'one.flo'}\n{a} {tmp_path / 'gone.png'} {tmp_path / 'x.flo'}\n"
        f"{a} {b}\n\n{b} {a} {tmp_path / 'two.flo'}\n"
    )
    assert main(["flow", "--pairs", str(listing), "--backend", "opencv-cpu", "--batch", "4"]) == 1
    one, two = read_flo(tmp_path / "one.flo"), read_flo(tmp_path / "two.flo")
    np.testing.assert_allclose(np.median(one.reshape(-1, 2), axis=0), SHIFT, atol=0.1)
    np.testing.assert_allclose(np.median(two.reshape(-1, 2), axis=0), -np.float32(SHIFT), atol=0.1)
    err = capsys.readouterr().err
    assert f"twostream flow: error: {listing}:3: {tmp_path / 'gone.png'}: file not found" in err
    assert f"twostream flow: error: {listing}:4: expected 'img0 img1 out.flo', got 2 field(s)" in err
    assert "opencv-cpu: 2 of 4 pairs -> .flo" in err
    assert not (tmp_path / "x.flo").exists()


def test_pairs_list_or_one_pair_not_both(images, tmp_path, capsys):
    line = error_of(["flow", *map(str, images), str(tmp_path / "o.flo"), "--pairs", "x.txt"], capsys)
    assert line == "twostream flow: error: give either IMG0 IMG1 OUT or --pairs LIST"
