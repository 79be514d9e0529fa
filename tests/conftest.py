"""Shared fixtures: the repository root and the shared real data (skipped where absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture
def single_thread():
    """One intra-op thread: on a shared 2-core machine two threads contend and run up to ~50x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository; tests using it skip where it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared test data not found at {SHARED} (clone the repository beside ../shared)")
    return SHARED


@pytest.fixture(scope="session")
def texture_video():
    """A factory: ``texture_video(path, frames=8, size=(48, 64), seed=0)`` writes a lossless (FFV1) video of a
    smooth random texture moving right by one pixel per frame, and returns its path."""
    import cv2
    import numpy as np

    def make(path: Path, frames: int = 8, size: tuple[int, int] = (48, 64), seed: int = 0) -> Path:
        rng = np.random.default_rng(seed)
        base = cv2.GaussianBlur((rng.random((*size, 3)) * 255).astype(np.uint8), (0, 0), 2)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25, (size[1], size[0]))
        for t in range(frames):
            writer.write(np.roll(base, t, axis=1))
        writer.release()
        return path

    return make


# --- Random shards and stage-1 streams (tests/train, tests/eval): one way to make them ---


@pytest.fixture(scope="session")
def random_shards():
    """A factory: ``random_shards(root, rows, frames, size)`` writes one shard of random frames and flow per row
    (``video_id``, ``label``, ``split1``; drawn in row order from seed 0) and their index ``root/shards.csv``."""
    import numpy as np
    import pandas as pd

    from twostream.data.shards import write_shard

    def make(root: Path, rows: list[dict], frames: int, size: int) -> Path:
        rng = np.random.default_rng(0)
        out = []
        for row in rows:
            rgb = rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8)
            flow = rng.integers(1, 256, (frames - 1, size, size, 2), dtype=np.uint8)
            shard = root / "shards" / f"{row['video_id']}.h5"
            write_shard(shard, rgb, flow, {"video_id": row["video_id"], "label": row["label"]}, quality=90)
            out.append({"video_id": row["video_id"], "label": row["label"], "class_name": f"C{row['label']}",
                        "split1": row["split1"], "shard": str(shard), "frames": frames})
        index = root / "shards.csv"
        pd.DataFrame(out).to_csv(index, index=False)
        return index

    return make


@pytest.fixture(scope="session")
def stage1_streams():
    """A factory: ``stage1_streams(root, classes, length)`` saves an untrained ResNet-10 RGB and flow stream
    (flow stacks of ``length`` fields) as stage-1 checkpoints; returns their paths (rgb, flow)."""
    import torch

    from twostream.models import checkpoint

    def make(root: Path, classes: int, length: int) -> tuple[Path, Path]:
        paths = []
        for modality in ("rgb", "flow"):
            torch.manual_seed(len(modality))
            config = checkpoint.stream_config(modality, 10, classes, 0.5, length)
            paths.append(root / f"{modality}.pt")
            checkpoint.save(paths[-1], checkpoint.build_stream(config), "stream", config, [])
        return paths[0], paths[1]

    return make


@pytest.fixture(scope="session")
def denseflow_tree():
    """A factory: ``denseflow_tree(root, videos, size=(48, 64), bound=20.0, quality=90)`` writes rawframes as
    denseflow writes them for each ``(folder, video path)`` of ``videos`` (two-level folders ``Class/video``
    as mmaction2 lists them): ``img_00000.jpg``... and ``flow_{x,y}_00000.jpg``... numbered from 0, flow
    in denseflow's encoding round(255 (v + b) / (2 b)). Frames and flow come from the pipeline's decoder
    and the opencv-cpu backend, as ``twostream extract`` makes them; returns the folders."""
    import cv2
    import numpy as np

    from twostream.data.decoding import decode
    from twostream.flow import get_backend

    def make(root: Path, videos: list[tuple[str, Path]], size: tuple[int, int] = (48, 64), bound: float = 20.0,
             quality: int = 90) -> list[Path]:
        backend = get_backend("opencv-cpu")
        folders = []
        for name, video in videos:
            folder = root / name
            folder.mkdir(parents=True)
            frames, grey, _ = decode(str(video), size)
            v = np.clip(backend.compute(grey[:-1], grey[1:]), -bound, bound)
            levels = np.rint(255 * (v + bound) / (2 * bound)).astype(np.uint8)
            jpeg = [cv2.IMWRITE_JPEG_QUALITY, quality]
            for t, frame in enumerate(frames):
                cv2.imwrite(str(folder / f"img_{t:05d}.jpg"), frame, jpeg)
            for t in range(len(levels)):
                for c, axis in enumerate("xy"):
                    cv2.imwrite(str(folder / f"flow_{axis}_{t:05d}.jpg"), levels[t, ..., c], jpeg)
            folders.append(folder)
        return folders

    return make


# --- CMA: a tiny shard set and stage-1 stream checkpoints (tests/train/test_cma.py, tests/eval/test_cma_*.py) ---

CMA_CLASSES, CMA_FRAMES, CMA_SIZE = 3, 8, 32


@pytest.fixture(scope="session")
def cma_data(tmp_path_factory: pytest.TempPathFactory, random_shards, stage1_streams) -> dict[str, Path]:
    """12 random videos (3 classes; split 1: 2 train + 2 test each) as shards, their index, and stage-1 streams."""
    root = tmp_path_factory.mktemp("cma_data")
    rows = [{"video_id": f"v_C{label}_c{clip}", "label": label, "split1": "train" if clip < 2 else "test"}
            for label in range(CMA_CLASSES) for clip in range(4)]
    index = random_shards(root, rows, CMA_FRAMES, CMA_SIZE)
    rgb, flow = stage1_streams(root, CMA_CLASSES, 5)
    return {"root": root, "index": index, "rgb": rgb, "flow": flow}


@pytest.fixture(scope="session")
def bad_frame_video():
    """A factory: ``bad_frame_video(path, bad=(5,), frames=16, fourcc="MJPG", size=(48, 64))`` writes an AVI of a
    moving noise texture and overwrites the data of the frames numbered in ``bad`` (0-based) with 0xFF bytes, so
    that OpenCV fails to decode them: MJPEG loses just those frames, FFV1 (keyframe every 12 frames) also the frames
    after them up to the next keyframe. Returns its path."""
    import cv2
    import numpy as np

    def movi_chunks(data: bytes) -> list[tuple[int, int]]:
        """(offset, size) of the frame chunks in the AVI's movi list, in order."""
        at, chunks = data.index(b"movi") + 4, []
        while at + 8 <= len(data) and data[at:at + 4] != b"idx1":
            size = int.from_bytes(data[at + 4:at + 8], "little")
            if data[at:at + 4] == b"LIST":
                at += 12
                continue
            chunks.append((at + 8, size))
            at += 8 + size + (size & 1)
        return chunks

    def make(path: Path, bad: tuple[int, ...] = (5,), frames: int = 16, fourcc: str = "MJPG",
             size: tuple[int, int] = (48, 64)) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        base = (np.random.default_rng(0).random((*size, 3)) * 255).astype(np.uint8)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25, (size[1], size[0]))
        for t in range(frames):
            writer.write(np.roll(base, t, axis=1))
        writer.release()
        data = bytearray(path.read_bytes())
        chunks = movi_chunks(bytes(data))
        assert len(chunks) == frames
        for k in bad:
            offset, length = chunks[k]
            data[offset:offset + length] = b"\xff" * length
        path.write_bytes(bytes(data))
        return path

    return make
