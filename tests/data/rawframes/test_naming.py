"""Rawframes file names: denseflow's."""

from __future__ import annotations

from twostream.data.rawframes.naming import flow_prefix, image_name


def test_flow_names_follow_denseflow() -> None:
    assert flow_prefix(1, "x") == "flow_x_"
    assert flow_prefix(2, "y") == "flow_y_p2_"
    assert flow_prefix(-1, "x") == "flow_x_m1_"
    assert image_name("img_", 7) == "img_00007.jpg"
