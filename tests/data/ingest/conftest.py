"""Fixtures for the ingest tests: the real data in ../shared and tiny videos made on the fly."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
TINY = {"frames": 5, "fps": 10.0, "width": 32, "height": 24}


@pytest.fixture(scope="session")
def tiny() -> dict[str, float]:
    """Metadata of the tiny test video: frames, fps, width, height."""
    return dict(TINY)


@pytest.fixture(scope="session")
def shared() -> Callable[..., Path]:
    """``shared("clips", "ucf101")`` -> that path under ../shared/data, or skip the test where absent."""

    def get(*parts: str) -> Path:
        path = SHARED.joinpath(*parts)
        if not path.exists():
            pytest.skip(f"real test data absent: {path} (expected at <repo>/../shared/data)")
        return path

    return get


@pytest.fixture(scope="session")
def tiny_avi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A decodable FFV1 .avi of TINY's size."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.avi"
    size = (TINY["width"], TINY["height"])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), TINY["fps"], size)
    assert writer.isOpened()
    for i in range(TINY["frames"]):
        writer.write(np.full((TINY["height"], TINY["width"], 3), 40 * i, np.uint8))
    writer.release()
    return path


@pytest.fixture
def put_video(tiny_avi: Path) -> Callable[[Path], Path]:
    """Copy the tiny video to a path (any extension), making its folders."""

    def put(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_avi, path)
        return path

    return put
