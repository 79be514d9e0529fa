"""denseflow's resize options."""

from __future__ import annotations

import pytest

from twostream.data.rawframes.naming import RawframesError
from twostream.data.rawframes.resize import Resize


def test_resize_follows_denseflow() -> None:
    assert Resize(340, 256, 0).size(240, 320) == (256, 340)
    assert Resize(340, 0, 0).size(240, 320) == (255, 340)  # 240 / 320 * 340 = 255
    assert Resize(0, 256, 0).size(240, 320) == (256, 341)  # 341.33
    assert Resize(0, 0, 128).size(240, 320) == (128, 171)  # 170.67
    assert Resize(0, 0, 128).size(320, 240) == (171, 128)  # portrait: the width is the short side
    assert Resize(0, 0, 256).size(240, 320) is None  # never enlarged
    assert Resize(0, 0, 0).size(240, 320) is None
    with pytest.raises(RawframesError, match="either"):
        Resize(340, 0, 128)
