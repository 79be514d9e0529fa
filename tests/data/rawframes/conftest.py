"""Export settings for the rawframes tests."""

from __future__ import annotations

import pytest

from twostream.data.rawframes.resize import Resize
from twostream.data.rawframes.writer import Settings


@pytest.fixture
def settings():
    """A factory: ``settings(step=1, quality=95, resize=Resize(0, 0, 0))``, bound 20."""

    def make(step: int = 1, quality: int = 95, resize: Resize = Resize(0, 0, 0)) -> Settings:
        return Settings(step=step, bound=20.0, quality=quality, resize=resize)

    return make
