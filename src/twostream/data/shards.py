"""Per-video HDF5 shards: JPEG frames and JPEG-quantised flow, with random access.

Layout (format version 1):
  /rgb/bytes     uint8 (n,)   concatenated JPEG files of the T frames (BGR order on encode)
  /rgb/offsets   int64 (T+1,) frame t is bytes[offsets[t]:offsets[t+1]]
  /flow/bytes    uint8 (m,)   concatenated greyscale JPEGs: field t, component c (0 = x, 1 = y) at 2t+c
  /flow/offsets  int64 (2(T-1)+1,)
  attributes     video_id, label, class_name, fps, frames, height, width, flow_backend,
                 flow_params (JSON), flow_bound, jpeg_quality, format_version, source, complete;
                 imported shards: flow_encoding, flow_encoding_bound

Flow is clipped to +-bound, scaled to [-1, 1] and quantised as q = round(127 f) + 128, so
zero flow is exactly 128 and q in 1..255. Shards imported from rawframes keep the flow JPEGs as
they were made: their attributes ``flow_encoding`` (``denseflow``: q = round(255 (v + b) / (2 b)))
and ``flow_encoding_bound`` (b) say how their grey levels map to pixels, and reading their planes
maps them to this quantisation at ``flow_bound`` (``flow_table``).

The byte buffers are chunked with HDF5's fletcher32 checksum, so every read verifies the chunks it
touches; a shard is written under a temporary name and renamed only when complete.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
from collections import OrderedDict
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np

from twostream.files import atomic_path

FORMAT_VERSION = 1
CHUNK_BYTES = 1 << 16
IMREAD_COLOR_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.10 decodes straight to RGB


class ShardError(Exception):
    """A shard that is missing, truncated or corrupted."""


# --- shard file names: unique, safe on every file system, reversible to the video id ---
# ASCII letters, digits, '-', '_' and (not first) '.' stay; every other byte of the id's UTF-8 form
# (non-UTF-8 bytes kept through surrogateescape) is written %hh in lowercase hex. When the id has
# upper-case letters, "~<mask>" (which of its letters are upper case, base 36) follows, so two ids that
# differ only in case never share a name on a case-insensitive file system. '~' itself is always escaped.
SUFFIX = ".h5"
_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10))})
_MAX_NAME = 240  # bytes; file systems allow 255
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _case_mask(text: str) -> int:
    letters = [c for c in text if c.isascii() and c.isalpha()]
    return sum(1 << k for k, c in enumerate(letters) if c.isupper())


def _base36(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
    return out or "0"


def shard_name(video_id: str) -> str:
    """The shard file name of a video id (see ``video_id_of`` for the way back).

    Ids too long for a file name are cut and end in ``~~<hash>``; their id is only in the shard's attributes.
    """
    if not video_id:
        raise ValueError("empty video id")
    out = []
    for i, byte in enumerate(video_id.encode("utf-8", "surrogateescape")):
        char = chr(byte)
        out.append(char if char in _LITERAL and not (i == 0 and char == ".") else f"%{byte:02x}")
    name = "".join(out)
    if name.split(".", 1)[0].lower() in _RESERVED:  # Windows device names, even with an extension
        name = f"%{ord(name[0]):02x}{name[1:]}"
    mask = _case_mask(video_id)
    if mask:
        name += "~" + _base36(mask)
    if len(name) + len(SUFFIX) > _MAX_NAME:
        digest = hashlib.sha256(video_id.encode("utf-8", "surrogateescape")).hexdigest()[:20]
        name = f"{name[:_MAX_NAME - len(SUFFIX) - 22]}~~{digest}"
    return name + SUFFIX


def video_id_of(name: str) -> str:
    """The video id a shard file name was made from; ValueError for a name ``shard_name`` does not make."""
    if not name.endswith(SUFFIX) or "~~" in name:
        raise ValueError(f"{name!r} is not a reversible shard name")
    body, _, mask = name[:-len(SUFFIX)].partition("~")
    raw = bytearray()
    i = 0
    while i < len(body):
        if body[i] == "%":
            raw.append(int(body[i + 1:i + 3], 16))
            i += 3
        else:
            raw.append(ord(body[i]))
            i += 1
    video_id = raw.decode("utf-8", "surrogateescape")
    if shard_name(video_id) != name:
        raise ValueError(f"{name!r} is not a shard name this code makes")
    return video_id


def quantize_flow(flow: np.ndarray) -> np.ndarray:
    """[-1, 1] float flow -> uint8 with zero at 128."""
    return (np.rint(np.clip(flow, -1.0, 1.0) * 127.0) + 128.0).astype(np.uint8)


def dequantize_flow(q):
    """Quantised flow (uint8 numpy, or a float torch tensor of its values) -> float in [-1, 1] (approximately)."""
    if isinstance(q, np.ndarray):
        q = q.astype(np.float32)
    return (q - 128.0) / 127.0


FLOW_ENCODINGS = ("twostream", "denseflow")


def flow_values(encoding: str, bound: float) -> np.ndarray:
    """The flow in pixels (float64) that each of the 256 grey levels stands for in an encoding at ``bound``.

    ``twostream`` (this project's): v = (q - 128) / 127 bound; ``denseflow`` (open-mmlab/denseflow's
    ``convertFlowToImage``, mmaction2's rawframes): v = q / 255 * 2 bound - bound.
    """
    q = np.arange(256, dtype=np.float64)
    if encoding == "twostream":
        return (q - 128.0) / 127.0 * bound
    if encoding == "denseflow":
        return q / 255.0 * 2.0 * bound - bound
    raise ValueError(f"unknown flow encoding {encoding!r} (one of {', '.join(FLOW_ENCODINGS)})")


def flow_table(encoding: str, bound: float, target_bound: float) -> np.ndarray | None:
    """The grey-level map (256 uint8) from an encoding at ``bound`` to this project's at ``target_bound``,
    or None where it is the identity (this project's encoding at the same bound).

    Each level goes to the nearest level of the target (flow beyond +-target_bound is clipped): the
    map adds at most half a quantisation step, 0.5 / 127 of ``target_bound``.
    """
    table = quantize_flow(flow_values(encoding, bound) / target_bound)
    return None if encoding == "twostream" and bound == target_bound else table


def jpeg_blob(image: np.ndarray, quality: int) -> np.ndarray:
    """The bytes of ``image`` as a JPEG file."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.ravel()


def jpeg_blobs(images: list[np.ndarray], quality: int, pool: Executor | None = None) -> list[np.ndarray]:
    """Each image as the bytes of a JPEG file (what a shard stores, concatenated), in order; encoded by
    ``pool``'s threads at once where given (OpenCV releases the GIL while it encodes)."""
    if pool is None:
        return [jpeg_blob(img, quality) for img in images]
    return list(pool.map(jpeg_blob, images, itertools.repeat(quality)))


def flow_fields(flow_q: np.ndarray) -> list[np.ndarray]:
    """The planes a shard stores for (N, H, W, 2) quantised flow: x then y of each pair."""
    return [flow_q[i, :, :, c] for i in range(len(flow_q)) for c in range(2)]


def _pack(blobs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(blobs) + 1, np.int64)
    offsets[1:] = np.cumsum([b.size for b in blobs])
    return np.concatenate(blobs) if blobs else np.zeros(0, np.uint8), offsets


def _store(group: h5py.Group, data: np.ndarray, offsets: np.ndarray) -> None:
    """Chunks of equal size, at most CHUNK_BYTES (no padding wasted in a last, mostly empty chunk)."""
    chunks = max(1, -(-data.size // CHUNK_BYTES))
    chunk = (max(1, -(-data.size // chunks)),)
    group.create_dataset("bytes", data=data, chunks=chunk, fletcher32=True)
    group.create_dataset("offsets", data=offsets)


def write_shard(path: str | os.PathLike, rgb: np.ndarray, flow_q: np.ndarray, attrs: dict[str, Any], quality: int) -> int:
    """Write one video's shard atomically; returns its size in bytes.

    ``rgb`` is (T, H, W, 3) BGR uint8; ``flow_q`` is (T-1, H, W, 2) quantised flow.
    """
    t = rgb.shape[0]
    if flow_q.shape != (t - 1, *rgb.shape[1:3], 2):
        raise ValueError(f"flow shape {flow_q.shape} does not match {t} frames of {rgb.shape[1:3]}")
    return write_encoded(path, jpeg_blobs(list(rgb), quality), jpeg_blobs(flow_fields(flow_q), quality),
                         rgb.shape[1:3], attrs, quality)


def write_encoded(path: str | os.PathLike, rgb: list[np.ndarray], flow: list[np.ndarray], size: tuple[int, int],
                  attrs: dict[str, Any], quality: int) -> int:
    """``write_shard`` from the JPEG files already made (``jpeg_blobs`` of the frames and of ``flow_fields``),
    byte for byte the same shard; so a video can be encoded a window at a time."""
    t = len(rgb)
    if len(flow) != 2 * (t - 1):
        raise ValueError(f"{len(flow)} flow planes do not match {t} frames")
    image = io.BytesIO()  # built in memory: HDF5 writing straight to a full disk can crash the process
    with h5py.File(image, "w") as f:
        _store(f.create_group("rgb"), *_pack(rgb))
        _store(f.create_group("flow"), *_pack(flow))
        meta = dict(attrs, frames=t, height=size[0], width=size[1], jpeg_quality=quality,
                    format_version=FORMAT_VERSION)
        for key, value in meta.items():
            f.attrs[key] = json.dumps(value) if isinstance(value, dict) else value
        f.attrs["complete"] = True
    data = image.getbuffer()
    with atomic_path(path) as tmp:  # a failed write (disk full, read-only) raises OSError and leaves nothing
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    return len(data)


class Shard:
    """Read access to one shard: ``rgb(t)`` and ``flow(t, length)``; checks integrity on open."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise ShardError(f"{self.path}: shard not found") from None
        except OSError as e:
            raise ShardError(f"{self.path}: corrupted or truncated shard ({e}); delete it and re-run") from None
        try:
            self._check()
            self._rgb = self._file["rgb/bytes"]
            self._rgb_off = self._file["rgb/offsets"][()]
            self._flow = self._file["flow/bytes"]
            self._flow_off = self._file["flow/offsets"][()]
        except (KeyError, OSError) as e:
            self.close()
            raise ShardError(f"{self.path}: corrupted shard ({e}); delete it and re-run") from None
        self.frames = int(self._file.attrs["frames"])
        self.size = int(self._file.attrs["height"]), int(self._file.attrs["width"])
        self.flow_table = self._flow_table()
        if self._rgb_off.shape != (self.frames + 1,) or self._flow_off.shape != (2 * (self.frames - 1) + 1,) \
                or self._rgb_off[-1] != self._rgb.shape[0] or self._flow_off[-1] != self._flow.shape[0]:
            self.close()
            raise ShardError(f"{self.path}: corrupted shard (inconsistent offsets); delete it and re-run")

    def _check(self) -> None:
        attrs = self._file.attrs
        if not attrs.get("complete", False):
            raise ShardError(f"{self.path}: incomplete shard; delete it and re-run")
        if attrs.get("format_version") != FORMAT_VERSION:
            raise ShardError(f"{self.path}: shard format {attrs.get('format_version')} is not {FORMAT_VERSION}; re-run extraction")

    def _flow_table(self) -> np.ndarray | None:
        """The map of this shard's flow grey levels to this project's quantisation (None: they are in it)."""
        attrs = self._file.attrs
        encoding = attrs.get("flow_encoding")
        if encoding is None:
            return None
        try:
            return flow_table(str(encoding), float(attrs["flow_encoding_bound"]), float(attrs["flow_bound"]))
        except (KeyError, ValueError) as e:
            self.close()
            raise ShardError(f"{self.path}: bad flow encoding attributes ({e}); delete it and re-run") from None

    @property
    def attrs(self) -> dict[str, Any]:
        out = dict(self._file.attrs)
        if "flow_params" in out:
            out["flow_params"] = json.loads(out["flow_params"])
        return out

    def _read(self, data: h5py.Dataset, lo: int, hi: int) -> np.ndarray:
        try:
            return data[lo:hi]
        except OSError as e:
            raise ShardError(f"{self.path}: checksum mismatch or read error ({e}); delete it and re-run") from None

    def _decode(self, buf: np.ndarray, flags: int, i: int) -> np.ndarray:
        img = cv2.imdecode(buf, flags)
        if img is None:
            raise ShardError(f"{self.path}: undecodable JPEG at index {i}; delete it and re-run")
        return img

    def rgb_bytes(self, t: int) -> np.ndarray:
        """Frame t's JPEG file (1-D uint8), undecoded."""
        return self._read(self._rgb, self._rgb_off[t], self._rgb_off[t + 1])

    def rgb(self, t: int) -> np.ndarray:
        """Frame t as (H, W, 3) RGB uint8."""
        buf = self.rgb_bytes(t)
        if IMREAD_COLOR_RGB is not None:
            return self._decode(buf, IMREAD_COLOR_RGB, t)
        return cv2.cvtColor(self._decode(buf, cv2.IMREAD_COLOR, t), cv2.COLOR_BGR2RGB)

    def _flow_keys(self, t: int, length: int) -> list[int]:
        last = self.frames - 2
        return [2 * min(i, last) + c for i in range(t, t + length) for c in range(2)]

    def flow_bytes(self, t: int, length: int) -> list[np.ndarray]:
        """The 2L greyscale JPEG files x_t, y_t, x_t+1, ... of the stack [t, t+length), undecoded (one read).

        Their grey levels are in the shard's encoding: map decoded planes through ``flow_table`` where set.
        """
        ks = self._flow_keys(t, length)
        lo, hi = int(self._flow_off[ks[0]]), int(self._flow_off[ks[-1] + 1])
        buf = self._read(self._flow, lo, hi)
        off = self._flow_off
        return [buf[off[k] - lo:off[k + 1] - lo] for k in ks]

    def flow_planes(self, t: int, length: int) -> list[np.ndarray]:
        """The 2L quantised planes x_t, y_t, x_t+1, ... of the stack [t, t+length), each (H, W) uint8.

        Indices past the end repeat the last field. The stack's JPEGs are contiguous: one read. Planes
        of another encoding (an import) are mapped to this project's quantisation (``flow_table``).
        """
        planes = [self._decode(buf, cv2.IMREAD_GRAYSCALE, k)
                  for k, buf in zip(self._flow_keys(t, length), self.flow_bytes(t, length))]
        if self.flow_table is not None:
            planes = [cv2.LUT(p, self.flow_table) for p in planes]
        return planes

    def flow(self, t: int, length: int) -> np.ndarray:
        """Quantised flow fields [t, t+length) as (length, H, W, 2) uint8; indices past the end repeat the last field."""
        planes = self.flow_planes(t, length)
        return np.stack([np.stack(planes[2 * i:2 * i + 2], -1) for i in range(length)])

    def verify(self) -> int:
        """Read every byte, checking each chunk's checksum; returns the frame count."""
        for data in (self._rgb, self._flow):
            self._read(data, 0, data.shape[0])
        return self.frames

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Shard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def verify(path: str | os.PathLike) -> int:
    """Open a shard and read every byte, checking each chunk's checksum; returns its frame count."""
    with Shard(path) as shard:
        return shard.verify()


def remove_stale(path: str | os.PathLike) -> None:
    """Delete temporary files a killed writer left beside ``path``."""
    path = Path(path)
    for tmp in path.parent.glob(f".{path.name}.tmp*"):
        tmp.unlink(missing_ok=True)


class ShardCache:
    """A bounded LRU of open shards, for one process (a DataLoader worker opens its own)."""

    def __init__(self, size: int = 64):
        self.size = size
        self._open: OrderedDict[str, Shard] = OrderedDict()
        self._pid = os.getpid()

    def get(self, path: str | os.PathLike) -> Shard:
        if os.getpid() != self._pid:  # forked: never use handles opened by the parent
            self._open = OrderedDict()
            self._pid = os.getpid()
        key = os.fspath(path)
        shard = self._open.pop(key, None) or Shard(key)
        self._open[key] = shard
        while len(self._open) > self.size:
            self._open.popitem(last=False)[1].close()
        return shard
