"""Container defects a download or a copy leaves: what decodes is used, what cannot be opened says why.

Tiny clips made by FFmpeg (imageio-ffmpeg, a test extra) and OpenCV, then damaged as an interrupted
download or a bad copy would damage them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from twostream.data.video import VideoError, iter_frames, probe

ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg (test extra) writes the MP4 and MKV clips")
FRAMES = 30


def clip(path: Path, *args: str) -> bytes:
    subprocess.run([ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25",
                    "-frames:v", str(FRAMES), "-c:v", "mpeg4", *args, str(path)], check=True)
    return path.read_bytes()


def mjpeg_avi(path: Path) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for t in range(FRAMES):
        writer.write(np.full((48, 64, 3), 8 * t, np.uint8))
    writer.release()
    return path.read_bytes()


def positions(path: Path) -> list[int]:
    return [p for p, _ in iter_frames(path)]


def test_an_mp4_cut_before_its_index_says_so(tmp_path) -> None:
    data = clip(tmp_path / "a.mp4")  # the index (moov) is written last
    (tmp_path / "cut.mp4").write_bytes(data[:len(data) // 2])
    with pytest.raises(VideoError, match=r"cannot open \(an MP4/MOV file without its index \(moov box\): a download "
                                         r"or copy that did not finish\?\)"):
        probe(tmp_path / "cut.mp4")


@pytest.mark.parametrize(("name", "args"), [("fast.mp4", ("-movflags", "+faststart")), ("cut.mkv", ())])
def test_a_file_cut_in_its_data_keeps_the_frames_before_the_cut(tmp_path, name, args) -> None:
    data = clip(tmp_path / f"whole{Path(name).suffix}", *args)
    (tmp_path / name).write_bytes(data[:len(data) * 2 // 3])
    read = positions(tmp_path / name)
    assert probe(tmp_path / name).frames == FRAMES and 0 < len(read) < FRAMES
    assert read == list(range(len(read)))  # a cut end: the frames before it, none dropped in between


def test_an_avi_without_its_index_or_with_a_zeroed_header_decodes_whole(tmp_path) -> None:
    data = mjpeg_avi(tmp_path / "a.avi")
    (tmp_path / "noindex.avi").write_bytes(data[:data.rfind(b"idx1")])
    (tmp_path / "zeroed.avi").write_bytes(bytes(200) + data[200:])
    assert positions(tmp_path / "noindex.avi") == list(range(FRAMES))
    assert positions(tmp_path / "zeroed.avi") == list(range(FRAMES))
    assert probe(tmp_path / "zeroed.avi").frames == 0  # the count is unknown: no truncation is claimed


@pytest.mark.parametrize(("content", "reason"), [
    (b"<!DOCTYPE html>\n<html><body>429 Too Many Requests</body></html>\n",
     "cannot open (an HTML page, not a video: a failed download?)"),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 1234\n",
     "cannot open (a Git LFS pointer, not the video: fetch the videos with git lfs pull)"),
    (b"this is not a video\n", "cannot open (a text file, not a video (it starts 'this is not a video'))"),
    (bytes(range(256)) * 4, "cannot open (not a video or unsupported codec)"),
], ids=["html", "lfs-pointer", "text", "binary"])
def test_a_file_that_is_not_a_video_says_what_it_looks_like(tmp_path, content, reason) -> None:
    (tmp_path / "v.mp4").write_bytes(content)
    with pytest.raises(VideoError) as error:
        probe(tmp_path / "v.mp4")
    assert str(error.value) == reason
