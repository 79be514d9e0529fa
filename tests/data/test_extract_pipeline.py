"""The pipelined extractor: decoding ahead in worker processes, flow batched across videos, writing behind."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from twostream.data import extract
from twostream.data.extract import extract_chunk, flow_videos
from twostream.flow.base import FlowBackend

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
    for name, (frames, grey), flow in out:
        alone = backend.compute(grey[:-1], grey[1:])
        np.testing.assert_array_equal(flow, alone)


def test_pipelined_shards_are_byte_identical_to_the_serial_path(tmp_path, monkeypatch):
    rows = _rows(tmp_path, ["v1", "v2", "v3", "v4"])
    piped = extract_chunk(rows, SleepyBackend(), tmp_path / "piped", size=SIZE, bound=20, quality=90, workers=2,
                          pairs_per_batch=3, decoder=fake_decoders.frames_of)
    monkeypatch.setattr(extract, "decode", fake_decoders.frames_of)
    (tmp_path / "serial").mkdir()
    for _, row in rows.iterrows():
        extract.extract_video(row, SleepyBackend(), tmp_path / "serial" / f"{row['video_id']}.h5", size=SIZE, bound=20,
                              quality=90)
    assert piped["status"].tolist() == ["ok"] * 4
    for name in rows["video_id"]:
        assert (tmp_path / "piped" / f"{name}.h5").read_bytes() == (tmp_path / "serial" / f"{name}.h5").read_bytes()


def test_a_native_decoder_crash_loses_one_video_not_the_chunk(tmp_path, capsys):
    rows = _rows(tmp_path, ["v1", "crash2", "v3", "crash4", "v5"])
    index = extract_chunk(rows, SleepyBackend(), tmp_path / "shards", size=SIZE, bound=20, quality=90, workers=2,
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
    index = extract_chunk(rows, SleepyBackend(seconds), tmp_path / "shards", size=SIZE, bound=20, quality=90,
                          workers=2, pairs_per_batch=4, decoder=fake_decoders.sleepy)
    wall = time.perf_counter() - start
    assert index["status"].tolist() == ["ok"] * 8
    slowest, serial = 8 * seconds, 3 * 8 * seconds
    print(f"\nwall {wall:.1f} s; slowest stage {slowest:.1f} s; stages one after another {serial:.1f} s")
    # about the slowest stage plus one video's decode and write and the ~2 s start of the decoding processes
    assert wall < 0.75 * serial
