"""Reading a rawframes folder back: JPEG checks without decoding, and each defect explained with the rest kept."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from twostream.data.rawframes.naming import RawframesError
from twostream.data.rawframes.reader import BadImage, jpeg_size, read_folder
from twostream.data.rawframes.templates import DENSEFLOW, detect, listing
from twostream.data.video import VideoError

H, W = 24, 32


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def write_folder(folder: Path, frames: int = 5, flows: tuple[int, int] | None = None, seed: int = 0) -> Path:
    """A denseflow folder (numbered from 0) of random frames and flow; ``flows``: x and y counts (T - 1 each)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for t in range(frames):
        (folder / f"img_{t:05d}.jpg").write_bytes(jpeg(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)))
    for axis, n in zip("xy", flows or (frames - 1, frames - 1)):
        for t in range(n):
            (folder / f"flow_{axis}_{t:05d}.jpg").write_bytes(jpeg(rng.integers(0, 256, (H, W), dtype=np.uint8)))
    return folder


def test_jpeg_size_reads_the_header_and_finds_truncation() -> None:
    rng = np.random.default_rng(0)
    colour, grey = jpeg(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)), jpeg(np.zeros((H, W), np.uint8))
    assert jpeg_size(colour) == (H, W, 3) and jpeg_size(grey) == (H, W, 1)
    for data, reason in ((b"", "empty"), (cv2.imencode(".png", np.zeros((4, 4), np.uint8))[1].tobytes(), "not a JPEG"),
                         (colour[:len(colour) // 2], "no end-of-image"), (colour[:40], "runs past the end")):
        with pytest.raises(BadImage, match=reason):
            jpeg_size(data)


def test_a_clean_folder_is_its_files_byte_for_byte(tmp_path) -> None:
    folder = write_folder(tmp_path / "v")
    got = read_folder(folder, DENSEFLOW, 90)
    assert (got.frames, len(got.flow), got.size, got.notes) == (5, 8, (H, W), [])
    assert got.rgb[2].tobytes() == (folder / "img_00002.jpg").read_bytes()
    assert got.flow[3].tobytes() == (folder / "flow_y_00001.jpg").read_bytes()


def cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-200])


@pytest.mark.parametrize("defect, frames, note", [
    (lambda f: (f / "img_00003.jpg").unlink(), 3, "gap in the frame numbers: img_00003.jpg missing"),
    (lambda f: (f / "flow_x_00001.jpg").unlink(), 2, "gap in the flow numbers: flow_x_00001.jpg missing"),
    (lambda f: [(f / f"flow_{a}_00004.jpg").write_bytes((f / f"flow_{a}_00003.jpg").read_bytes()) for a in "xy"],
     5, "5 x and 5 y flow fields for 5 frames: T frames have T - 1 fields, the fields after the 4th left out"),
    (lambda f: (f / "flow_y_00003.jpg").unlink(), 4, "4 x and 3 y flow fields for 5 frames: cut to 4 frames"),
    (lambda f: cut(f / "img_00002.jpg"), 2, "img_00002.jpg: truncated JPEG (no end-of-image marker): cut to 2"),
    (lambda f: cut(f / "flow_x_00002.jpg"), 3, "flow_x_00002.jpg: truncated JPEG (no end-of-image marker): cut to 3"),
    (lambda f: (f / "img_00004.jpg").write_bytes(jpeg(np.zeros((H, 2 * W, 3), np.uint8))), 4,
     "frame is 64x24 in img_00004.jpg, frames are 32x24: cut to 4"),
    (lambda f: (f / "img_00001.jpg").write_bytes(b"\xff\xd8garbage"), 1, None),
])
def test_each_defect_is_explained_and_the_rest_kept(tmp_path, defect, frames, note) -> None:
    folder = write_folder(tmp_path / "v")
    defect(folder)
    if frames < 2:
        with pytest.raises(VideoError, match="img_00001.jpg: truncated or corrupt JPEG.*fewer than 2 usable frames"):
            read_folder(folder, DENSEFLOW, 90)
        return
    got = read_folder(folder, DENSEFLOW, 90)
    assert (got.frames, len(got.flow)) == (frames, 2 * (frames - 1))
    assert any(n.startswith(note) for n in got.notes), got.notes


@pytest.mark.parametrize("make, reason", [
    (lambda f: None, "folder not found"),
    (lambda f: write_folder(f, 1, (0, 0)), "no flow_x_00000.jpg \\(no file named as 'flow_{}_{:05d}.jpg'\\)"),
    (lambda f: (write_folder(f), (f / "img_00000.jpg").unlink()), "no img_00000.jpg \\(frames numbered from 1\\)"),
    (lambda f: (write_folder(f), [(f / f"flow_{a}_00000.jpg").write_bytes(jpeg(np.zeros((H // 2, W // 2), np.uint8)))
                                  for a in "xy"]), "flow is 16x12 in flow_x_00000.jpg, frames are 32x24"),
])
def test_unusable_folders_say_why(tmp_path, make, reason) -> None:
    make(tmp_path / "v")
    with pytest.raises(VideoError, match=reason):
        read_folder(tmp_path / "v", DENSEFLOW, 90)


def test_png_is_encoded_as_jpeg_and_16_bit_flow_refused(tmp_path) -> None:
    folder = write_folder(tmp_path / "v", 3)
    flow = np.full((H, W), 77, np.uint8)
    for t in range(2):
        (folder / f"flow_x_{t:05d}.jpg").unlink()
        cv2.imwrite(str(folder / f"flow_x_{t:05d}.png"), flow)
    with pytest.raises(RawframesError, match="no flow images"):
        detect([listing(folder)])  # x in PNG, y in JPEG: not one template
    for t in range(2):
        (folder / f"flow_y_{t:05d}.jpg").unlink()
        cv2.imwrite(str(folder / f"flow_y_{t:05d}.png"), flow)
    naming = detect([listing(folder)])
    assert naming.flow.text == "flow_{}_{:05d}.png"
    got = read_folder(folder, naming, 95)
    assert got.notes == ["4 non-JPEG image(s) encoded as JPEG (quality 95)"]
    assert np.abs(cv2.imdecode(got.flow[1], cv2.IMREAD_GRAYSCALE).astype(int) - 77).max() <= 1
    cv2.imwrite(str(folder / "flow_y_00000.png"), flow.astype(np.uint16) * 256)
    with pytest.raises(VideoError, match="flow_y_00000.png: uint16 pixels: rawframes are 8-bit"):
        read_folder(folder, naming, 95)
