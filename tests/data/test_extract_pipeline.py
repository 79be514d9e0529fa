"""The pipelined extractor: decoding ahead in worker processes, flow batched across videos, writing behind."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from twostream.data import decoding, extract
from twostream.data.extract import extract_chunk, flow_videos
from twostream.data.shards import quantize_flow
from twostream.flow.base import FlowBackend, normalize

sys.path.insert(0, str(Path(__file__).parent))  # before any worker starts: they import fake_decoders
import fake_decoders  # noqa: E402

SIZE = (8, 12)


class SleepyBackend(FlowBackend):
    """Flow = the difference of the frames, after ``seconds`` per call; records its batch sizes."""

    name = "sleepy"

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds, self.batches = seconds, []

    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        time.sleep(self.seconds)
        self.batches.append(len(prev))
        diff = nxt.astype(np.float32) - prev.astype(np.float32)
        return np.stack([diff, -diff], -1) / 16

    def params(self) -> dict:
        return {"seconds": self.seconds}


def _rows(tmp_path: Path, names: list[str]) -> pd.DataFrame:
    rows = []
    for name in names:
        path = tmp_path / "videos" / f"{name}.avi"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"fake")
        rows.append({"video_id": name, "path": str(path), "label": 0, "class_name": "C", "frames": 5, "fps": 25.0})
    return pd.DataFrame(rows)


def test_batches_cross_videos_and_each_video_gets_its_own_flow(tmp_path):
    backend = SleepyBackend()
    names = ["v1", "v2", "v3"]
    out = list(flow_videos(names, backend, path=lambda n: str(tmp_path / f"{n}.avi"), size=SIZE, batch_pairs=6,
                           workers=2, decoder=fake_decoders.frames_of))
    assert [n for n, _, _ in out] == names
    assert backend.batches == [6, 6]  # 3 videos x 4 pairs in batches of 6: a video split over two batches
    for name, (frames, grey, _), flow in out:
        alone = backend.compute(grey[:-1], grey[1:])
        np.testing.assert_array_equal(flow, alone)


def test_pipelined_shards_are_byte_identical_to_the_serial_path(tmp_path, monkeypatch):
    rows = _rows(tmp_path, ["v1", "v2", "v3", "v4"])
    piped = extract_chunk(rows, SleepyBackend(), tmp_path / "piped", size=SIZE, bound=20, quality=90, length=5, workers=2,
                          pairs_per_batch=3, decoder=fake_decoders.frames_of)
    monkeypatch.setattr(extract, "decode", fake_decoders.frames_of)
    (tmp_path / "serial").mkdir()
    for _, row in rows.iterrows():
        extract.extract_video(row, SleepyBackend(), tmp_path / "serial" / f"{row['video_id']}.h5", size=SIZE, bound=20,
                              quality=90, length=5)
    assert piped["status"].tolist() == ["ok"] * 4
    for name in rows["video_id"]:
        assert (tmp_path / "piped" / f"{name}.h5").read_bytes() == (tmp_path / "serial" / f"{name}.h5").read_bytes()


def test_a_native_decoder_crash_loses_one_video_not_the_chunk(tmp_path, capsys):
    rows = _rows(tmp_path, ["v1", "crash2", "v3", "crash4", "v5"])
    index = extract_chunk(rows, SleepyBackend(), tmp_path / "shards", size=SIZE, bound=20, quality=90, length=5, workers=2,
                          pairs_per_batch=8, decoder=fake_decoders.crashing)
    assert index["video_id"].tolist() == rows["video_id"].tolist()
    assert index["status"].tolist() == ["ok", "failed", "ok", "failed", "ok"]
    assert index.loc[1, "reason"] == "decoder crashed (signal 11, SIGSEGV)"
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == ["v1.h5", "v3.h5", "v5.h5"]
    assert f"{rows.loc[3, 'path']}: decoder crashed (signal 11" in capsys.readouterr().err


def test_stages_overlap_so_a_chunk_takes_about_its_slowest_stage(tmp_path, monkeypatch):
    """Decode, flow and write each take STAGE_SECONDS per video: run one after another they would take 3x."""
    seconds = fake_decoders.STAGE_SECONDS
    real_write = extract._write

    def slow_write(*args, **kwargs):
        time.sleep(seconds)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(extract, "_write", slow_write)
    rows = _rows(tmp_path, [f"v{k}" for k in range(8)])
    start = time.perf_counter()
    index = extract_chunk(rows, SleepyBackend(seconds), tmp_path / "shards", size=SIZE, bound=20, quality=90, length=5,
                          workers=2, pairs_per_batch=4, decoder=fake_decoders.sleepy)
    wall = time.perf_counter() - start
    assert index["status"].tolist() == ["ok"] * 8
    slowest, serial = 8 * seconds, 3 * 8 * seconds
    print(f"\nwall {wall:.1f} s; slowest stage {slowest:.1f} s; stages one after another {serial:.1f} s")
    # about the slowest stage plus one video's decode and write and the ~2 s start of the decoding processes
    assert wall < 0.75 * serial


def _long_video(path: Path, frames: int, size: tuple[int, int]) -> None:
    """A lossless (FFV1) video of moving noise, ``frames`` long."""
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (size[0] + frames, size[1], 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25, (size[1], size[0]))
    for t in range(frames):
        writer.write(np.ascontiguousarray(base[t:t + size[0]]))
    writer.release()


def test_a_long_video_is_decoded_a_window_at_a_time_and_its_flow_is_the_whole_videos(tmp_path):
    path = tmp_path / "long.avi"
    _long_video(path, 23, SIZE)
    whole_frames, whole_grey, positions = decoding.decode(str(path), SIZE)
    assert positions.tolist() == list(range(23))
    parts = list(decoding.windows(decoding.decode, str(path), SIZE, 4))
    assert [len(f) for f, _, _ in parts] == [4, 4, 4, 4, 4, 3]
    np.testing.assert_array_equal(np.concatenate([f for f, _, _ in parts]), whole_frames)
    np.testing.assert_array_equal(np.concatenate([p for _, _, p in parts]), positions)
    backend = SleepyBackend()
    out = list(extract.flow_windows(["long"], backend, path=lambda _: str(path), size=SIZE, batch_pairs=5, workers=1,
                                    window=4))
    assert [len(part[0]) for _, part, _, _ in out] == [4, 4, 4, 4, 4, 3]
    assert [len(flow) for _, _, flow, _ in out] == [3, 4, 4, 4, 4, 3]  # the pairs ending at each window's frames
    assert [last for *_, last in out] == [False] * 5 + [True]
    np.testing.assert_array_equal(np.concatenate([f for _, _, f, _ in out]),
                                  backend.compute(whole_grey[:-1], whole_grey[1:]))


@pytest.mark.parametrize("encoders", [1, 3])
def test_windowed_shards_are_byte_identical_to_the_whole_video_path(tmp_path, encoders):
    videos = tmp_path / "videos"
    videos.mkdir()
    rows = []
    for name, frames in (("a", 23), ("b", 2), ("c", 9)):
        _long_video(videos / f"{name}.avi", frames, SIZE)
        rows.append({"video_id": name, "path": str(videos / f"{name}.avi"), "label": 0, "class_name": "C",
                     "frames": frames, "fps": 25.0})
    rows = pd.DataFrame(rows)
    index = extract_chunk(rows, SleepyBackend(), tmp_path / "windowed", size=SIZE, bound=20, quality=90, length=5, workers=2,
                          encoders=encoders, pairs_per_batch=5, window=4)
    assert index["status"].tolist() == ["ok"] * 3 and index["frames"].tolist() == [23, 2, 9]
    (tmp_path / "whole").mkdir()
    for _, row in rows.iterrows():
        out = tmp_path / "whole" / f"{row['video_id']}.h5"
        extract.extract_video(row, SleepyBackend(), out, size=SIZE, bound=20, quality=90, length=5)
        assert Path(index.set_index("video_id").loc[row["video_id"], "shard"]).read_bytes() == out.read_bytes()


class QuantizingBackend(SleepyBackend):
    """Flow only as quantised uint8 (as a GPU backend quantises on its device): float flow is never asked for."""

    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        raise AssertionError("extract asked for float flow")

    def compute_quantized(self, prev: np.ndarray, nxt: np.ndarray, bound: float) -> np.ndarray:
        return quantize_flow(normalize(super().compute(prev, nxt), bound))


def test_the_backend_quantises_and_the_shards_are_the_serial_paths(tmp_path, monkeypatch):
    rows = _rows(tmp_path, ["v1", "v2"])
    index = extract_chunk(rows, QuantizingBackend(), tmp_path / "piped", size=SIZE, bound=0.5, quality=90, length=5, workers=1,
                          encoders=2, pairs_per_batch=3, decoder=fake_decoders.frames_of)
    assert index["status"].tolist() == ["ok"] * 2
    monkeypatch.setattr(extract, "decode", fake_decoders.frames_of)
    for _, row in rows.iterrows():
        serial = tmp_path / f"{row['video_id']}.h5"
        extract.extract_video(row, SleepyBackend(), serial, size=SIZE, bound=0.5, quality=90, length=5)
        assert (tmp_path / "piped" / f"{row['video_id']}.h5").read_bytes() == serial.read_bytes()
