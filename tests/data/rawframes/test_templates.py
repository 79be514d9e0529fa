"""File-name templates: mmaction2's filename_tmpl syntax both ways, and detection from a folder's files."""

from __future__ import annotations

import json

import pytest

from twostream.data.rawframes.naming import RawframesError
from twostream.data.rawframes.templates import Naming, Template, detect, listing


def names(template: str, numbers, flow: bool = False, axes=("x", "y")) -> list[str]:
    t = Template(template, flow, axes)
    return [t.name(n, a) for n in numbers for a in ((0, 1) if flow else (0,))]


def test_templates_format_as_mmaction2_and_read_back() -> None:
    flow = Template("{}_{:05d}.jpg", True)  # mmaction2's TSN flow config
    assert flow.name(7, 0) == "x_00007.jpg" and flow.number("y_00007.jpg") == (1, 7)
    after = Template("{1:06d}_{0}.png", True, ("u", "v"))
    assert after.name(3, 1) == "000003_v.png" and after.number("000003_u.png") == (0, 3)
    rgb = Template("frame{}.jpg", False)
    assert rgb.number("frame12.jpg") == (0, 12) and rgb.number("frame012.jpg") is None  # not its name for 12
    assert Template("img_{:05d}.jpg", False).number("img_123456.jpg") == (0, 123456)
    assert Template("{}/{:04d}.jpg", True).name(2, 1) == "y/0002.jpg"


@pytest.mark.parametrize("text, flow, message", [
    ("img.jpg", False, "one number field"), ("{}_{}_{}.jpg", True, "more than 2"),
    ("{name}.jpg", False, "positional"), ("../{:05d}.jpg", False, "inside the video's folder"),
    ("img_{:05d.jpg", False, "bad file-name template"), ("{:s}.jpg", False, "bad file-name template")])
def test_bad_templates_are_named(text, flow, message) -> None:
    with pytest.raises(RawframesError, match=message):
        Template(text, flow)


@pytest.mark.parametrize("rgb, flow, start, axes", [
    ("img_{:05d}.jpg", "flow_{}_{:05d}.jpg", 0, ("x", "y")),  # denseflow
    ("img_{:05d}.jpg", "flow_{}_{:05d}.jpg", 1, ("x", "y")),  # this project's export
    ("img_{:05d}.jpg", "{}_{:05d}.jpg", 1, ("x", "y")),  # mmaction2's flow template as written
    ("frame{:06d}.png", "{}/frame{:06d}.png", 1, ("u", "v")),  # a folder per axis, PNG
    ("image_{:d}.jpeg", "{1:d}_{0}.jpeg", 0, ("x", "y")),  # unpadded, the axis after the number
    ("{:04d}.jpg", "flow{}{:04d}.jpg", 3, ("x", "y")),  # an undelimited axis word
])
def test_detection_finds_the_templates_and_first_numbers(rgb, flow, start, axes) -> None:
    folders = [names(rgb, range(start, start + t)) + names(flow, range(start, start + t - 1), True, axes)
               for t in (12, 9, 140)]
    folders[1] = folders[1][1:]  # a folder that lacks its first frame does not decide the start
    naming = detect(folders)
    assert (naming.rgb.text, naming.flow.text, naming.flow.axes) == (rgb, flow, axes)
    assert naming.rgb_start == naming.flow_start == start


def test_flow_numbered_by_its_second_frame_and_given_keys() -> None:
    folder = names("img_{:05d}.jpg", range(0, 6)) + names("flow_{}_{:05d}.jpg", range(1, 6), True)
    naming = detect([folder])
    assert (naming.rgb_start, naming.flow_start) == (0, 1)
    given = detect([folder], rgb="img_{:05d}.jpg", flow="flow_{}_{:05d}.jpg", start=1)
    assert (given.rgb_start, given.flow_start) == (1, 1)
    uv = detect([names("f{:03d}.jpg", range(4)) + names("{}{:03d}.jpg", range(3), True, ("u", "v"))],
                flow="{}{:03d}.jpg")
    assert uv.flow.axes == ("u", "v") and uv.rgb.text == "f{:03d}.jpg"


def test_detection_without_flow_or_frames_says_what_it_expected() -> None:
    with pytest.raises(RawframesError, match="no flow images"):
        detect([names("img_{:05d}.jpg", range(5))])
    with pytest.raises(RawframesError, match="no frame images"):
        detect([names("flow_{}_{:05d}.jpg", range(5), True)])


def test_listing_is_relative_and_images_only(tmp_path) -> None:
    for name in ("img_00001.jpg", "x/00001.jpg", ".done", "notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert listing(tmp_path) == ["img_00001.jpg", "x/00001.jpg"]


def test_a_naming_reads_back_from_its_description() -> None:
    naming = detect([names("{:04d}.jpg", range(3)) + names("{}/{:04d}.jpg", range(2), True, ("u", "v"))])
    assert Naming.from_description(json.loads(json.dumps(naming.describe()))) == naming
