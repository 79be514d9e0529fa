"""Rawframes file names in mmaction2's ``filename_tmpl`` syntax: formatted, matched back, detected.

A template names the files of one video's folder (it may name files in sub-folders of it):

* frames: one field, the frame number: ``img_{:05d}.jpg`` (denseflow's and this project's),
  ``image_{:05d}.jpg``, ``{:06d}.png``, ``frame{}.jpg`` (not zero-padded);
* flow: two fields, the axis word then the number, as mmaction2's ``RawFrameDecode`` fills them
  (``filename_tmpl.format('x', n)``): ``flow_{}_{:05d}.jpg`` (denseflow's), ``{}_{:05d}.jpg``
  (mmaction2's TSN flow configs), ``{}/frame{:06d}.jpg`` (a folder per axis), ``{1:05d}_{0}.jpg`` (the
  axis after the number). The axis words are ``x`` and ``y``, or ``u`` and ``v`` (detected).

``detect`` finds the templates and the first numbers of a dataset from the file names of a few of
its video folders: files are grouped by what surrounds their last run of digits; two groups that
differ only in an axis word are the flow, the largest other group the frames.
"""

from __future__ import annotations

import os
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from twostream.data.rawframes.naming import RawframesError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
AXES = (("x", "y"), ("u", "v"))


def is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


@dataclass(frozen=True)
class Template:
    """A ``filename_tmpl``: ``flow`` templates take (axis word, number), frame templates (number)."""

    text: str
    flow: bool
    axes: tuple[str, str] = ("x", "y")
    _pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pattern", _compile(self.text, self.flow, self.axes))
        try:
            probe = self.name(1, 0)
        except (ValueError, IndexError, KeyError) as e:
            raise RawframesError(f"bad file-name template {self.text!r}: {e}") from None
        parts = probe.split("/")
        if probe.startswith("/") or ".." in parts or "" in parts:
            raise RawframesError(f"file-name template {self.text!r} must name a file inside the video's folder")
        if self.number(probe) != (0, 1):
            raise RawframesError(f"file-name template {self.text!r} cannot be read back from the names it makes")

    def name(self, n: int, axis: int = 0) -> str:
        """The file name of frame (or flow field) ``n``, of axis 0 (x) or 1 (y) for flow."""
        return self.text.format(self.axes[axis], n) if self.flow else self.text.format(n)

    def number(self, name: str) -> tuple[int, int] | None:
        """(axis, number) of a file name this template makes (axis 0 for frames), else None."""
        m = self._pattern.fullmatch(name)
        if m is None:
            return None
        axis = self.axes.index(m["axis"]) if self.flow else 0
        n = int(m["n"])
        return (axis, n) if self.name(n, axis) == name else None


def _compile(text: str, flow: bool, axes: tuple[str, str]) -> re.Pattern:
    """The regular expression of a template's names: the axis word and the number as groups."""
    fields = 2 if flow else 1
    auto, seen, regex = 0, set(), ""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as e:
        raise RawframesError(f"bad file-name template {text!r}: {e}") from None
    for literal, name, _spec, _conversion in parsed:
        regex += re.escape(literal)
        if name is None:
            continue
        if name == "":
            index, auto = auto, auto + 1
        elif name.isdigit():
            index = int(name)
        else:
            raise RawframesError(f"file-name template {text!r}: fields are positional ({{}}, {{0}}, {{1:05d}})")
        if index >= fields:
            raise RawframesError(f"file-name template {text!r} has more than {fields} field(s) "
                                 f"({'axis word and number' if flow else 'the frame number'})")
        group = "axis" if flow and index == 0 else "n"
        regex += f"(?P={group})" if index in seen else (
            f"(?P<axis>{'|'.join(map(re.escape, axes))})" if group == "axis" else r"(?P<n>[ +]*\d+)")
        seen.add(index)
    if len(seen) != fields:
        needs = "an axis field and a number field" if flow else "one number field"
        raise RawframesError(f"file-name template {text!r} needs {needs}")
    return re.compile(regex)


@dataclass(frozen=True)
class Naming:
    """A dataset's file names: the templates, and the first number of frames and of flow fields.

    Flow file ``flow_start + t`` is the flow from frame ``rgb_start + t`` to the next one.
    """

    rgb: Template
    flow: Template
    rgb_start: int
    flow_start: int

    def describe(self) -> dict:
        """As JSON values (``from_description`` reads them back)."""
        return {"rgb": self.rgb.text, "flow": self.flow.text, "axes": list(self.flow.axes),
                "rgb_start": self.rgb_start, "flow_start": self.flow_start}

    @classmethod
    def from_description(cls, d: dict) -> Naming:
        return cls(Template(d["rgb"], False), Template(d["flow"], True, tuple(d["axes"])), int(d["rgb_start"]),
                   int(d["flow_start"]))


DENSEFLOW = Naming(Template("img_{:05d}.jpg", False), Template("flow_{}_{:05d}.jpg", True), 0, 0)


def listing(folder: str | os.PathLike) -> list[str]:
    """The image files under a video's folder, as paths relative to it ('/'-separated), sorted."""
    out = []
    for d, dirs, files in os.walk(folder):
        dirs.sort()
        rel = os.path.relpath(d, folder)
        out += [f if rel == "." else f"{rel}/{f}".replace(os.sep, "/") for f in files if is_image(f)]
    return sorted(out)


_LAST_NUMBER = re.compile(r"(?P<head>.*?)(?P<digits>\d+)(?P<tail>\D*)")


def detect(listings: Sequence[Sequence[str]], rgb: str | None = None, flow: str | None = None,
           start: int | None = None) -> Naming:
    """The naming of a dataset from the image files of some of its video folders (``listing``).

    ``rgb`` and ``flow`` (templates) and ``start`` (the first number of both) are used where given;
    a start not given is the first number most folders have, for frames and flow apart.
    RawframesError where the files show no numbered frames and flow.
    """
    groups: dict[tuple[str, str], list[list[str]]] = {}  # (head, tail) -> per folder, the digit strings
    for k, names in enumerate(listings):
        for name in names:
            m = _LAST_NUMBER.fullmatch(name)
            if m is not None:
                group = groups.setdefault((m["head"], m["tail"]), [[] for _ in listings])
                group[k].append(m["digits"])
    flow_template = Template(flow, True, _axes_of(flow, listings)) if flow else _detect_flow(groups)
    rgb_template = Template(rgb, False) if rgb else _detect_rgb(groups, flow_template, listings)
    if start is not None:
        return Naming(rgb_template, flow_template, start, start)
    return Naming(rgb_template, flow_template, _first(rgb_template, listings), _first(flow_template, listings))


def _axes_of(flow: str, listings: Sequence[Sequence[str]]) -> tuple[str, str]:
    """The axis words a given flow template's files use: x/y, else u/v where only those match."""
    for axes in AXES:
        template = Template(flow, True, axes)
        if any(template.number(n) is not None for names in listings for n in names):
            return axes
    return AXES[0]


def _number_spec(digits: Iterable[str]) -> str:
    """``{:0Nd}`` where numbers are zero-padded to N digits, else ``{:d}``."""
    padded = [len(d) for d in digits if len(d) > 1 and d.startswith("0")]
    return f"{{:0{max(padded)}d}}" if padded else "{:d}"


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _detect_flow(groups: dict[tuple[str, str], list[list[str]]]) -> Template:
    """The flow template: two groups whose names differ in one axis word (x/y or u/v); of several, the largest."""
    found = []
    for (head, tail), folders in groups.items():
        digits = [d for f in folders for d in f]
        spec = _number_spec(digits)
        for axes in AXES:
            a, b = axes
            for i in _word_positions(head, a):
                other = groups.get((head[:i] + b + head[i + 1:], tail))
                if other is not None:
                    text = _escape(head[:i]) + "{}" + _escape(head[i + 1:]) + spec + _escape(tail)
                    found.append((len(digits), text, axes))
            for i in _word_positions(tail, a):
                other = groups.get((head, tail[:i] + b + tail[i + 1:]))
                if other is not None:
                    text = _escape(head) + "{1" + spec[1:] + _escape(tail[:i]) + "{0}" + _escape(tail[i + 1:])
                    found.append((len(digits), text, axes))
    if not found:
        raise RawframesError("no flow images found: expected pairs of numbered files whose names differ in an "
                             "axis word, x and y (flow_x_00000.jpg, flow_y_00000.jpg) or u and v; "
                             "give rawframes.filename_tmpl")
    _, text, axes = max(found, key=lambda f: (f[0], f[1]))
    return Template(text, True, axes)


def _word_positions(text: str, word: str) -> list[int]:
    """Where a one-letter axis word stands in ``text``: delimited positions first (``flow_x_``), then any."""
    at = [i for i, c in enumerate(text) if c == word]
    delimited = [i for i in at if (i == 0 or not text[i - 1].isalnum())
                 and (i + 1 == len(text) or not text[i + 1].isalnum())]
    return delimited or at


def _detect_rgb(groups: dict[tuple[str, str], list[list[str]]], flow: Template,
                listings: Sequence[Sequence[str]]) -> Template:
    """The frames' template: the largest group of numbered images that are not flow."""
    flow_names = {n for names in listings for n in names if flow.number(n) is not None}
    best = None
    for (head, tail), folders in groups.items():
        digits = [d for f in folders for d in f]
        text = _escape(head) + _number_spec(digits) + _escape(tail)
        sample = f"{head}{digits[0]}{tail}"
        if sample in flow_names:
            continue
        if best is None or (len(digits), text) > best[:2]:
            best = (len(digits), text)
    if best is None:
        raise RawframesError("no frame images found beside the flow: expected numbered files such as "
                             "img_00000.jpg; give rawframes.filename_tmpl")
    return Template(best[1], False)


def _first(template: Template, listings: Sequence[Sequence[str]]) -> int:
    """The first number most folders start at (a folder that lacks its first file does not decide it)."""
    starts = Counter()
    for names in listings:
        numbers = [m[1] for n in names if (m := template.number(n)) is not None and m[0] == 0]
        if numbers:
            starts[min(numbers)] += 1
    if not starts:
        raise RawframesError(f"no files named as {template.text!r} in the sampled folders")
    return max(starts.items(), key=lambda kv: (kv[1], -kv[0]))[0]
