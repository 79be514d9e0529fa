"""Loader throughput: our HDF5 shards against dense_flow / mmaction JPEG "rawframes".

Builds both layouts in a scratch folder for the same videos (the real clips under
<repo>/../shared/data/clips, resized to 256x340 and repeated under different ids), then
measures TSN training clips per second (K=3 snippets: 3 RGB frames + 3 stacks of 5 flow
fields = 33 JPEG decodes per clip, one random 224 crop + flip shared by the clip) through
a torch DataLoader for several worker counts, the bytes on disk of each layout, and where
the time goes in one process (per-stage profile, decoder comparison, collation/IPC), plus
proposed loader changes applied by monkeypatching (their outputs are checked to be
bit-identical to the current code's). Prints the numbers and writes them as JSON.

    python benchmarks/loader.py [--videos 32] [--batches 20] [--batch-size 16] [--workers 0 1 2]
        [--repeat 3] [--cold] [--out benchmarks/out/loader.json]

Loaders: shards (TSNDataset exactly as training uses it), rawframes (TSN-pytorch style, PIL), and for
the analysis rawframes-cv2 (mmaction-style decoding), shards-fast / rawframes-fast (the proposed code
path, fast_getitem, monkeypatched and checked bit-identical) and shards-nocache (a shard open per clip).
Wall clips/s and CPU ms per clip (process + joined workers) are reported; results and findings are
in docs/loader.md.

Flow: real TV-L1 (the pipeline's opencv-cpu backend, bound 20) computed once for the first
--flow-pairs frame pairs of each real clip, cached under the scratch folder and cycled to
fill each video (loader speed depends on the bytes of the flow JPEGs, not on which frames
they belong to). --flow farneback is a faster stand-in for quick runs.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import mmap
import os
import platform
import resource
import shutil
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torch.utils.data._utils.collate import default_collate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from twostream.data import sampling, shards, transforms  # noqa: E402
from twostream.data.dataset import TSNDataset  # noqa: E402
from twostream.data.shards import Shard, quantize_flow, write_shard  # noqa: E402
from twostream.data.video import read_frames  # noqa: E402
from twostream.flow import get_backend, normalize  # noqa: E402

SIZE = (256, 340)  # H, W (the papers' frame size)
BOUND = 20.0  # the pipeline's default flow bound, also dense_flow's
QUALITY = 90  # the pipeline's default JPEG quality (dense_flow itself writes 95)
SEGMENTS, LENGTH, CROP = 3, 5, 224
CLIPS = REPO.parent / "shared" / "data" / "clips"
LAYOUT_VERSION = 1


# ----------------------------------------------------------------------------- data

def real_clips() -> list[Path]:
    clips = sorted(p for p in CLIPS.rglob("*") if p.suffix.lower() in (".avi", ".mp4"))
    if not clips:
        raise SystemExit(f"no clips under {CLIPS}")
    return clips


def compute_flow(frames: np.ndarray, method: str, pairs: int) -> np.ndarray:
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames[:pairs + 1]])
    if method == "tvl1":
        return get_backend("opencv-cpu").compute(grey[:-1], grey[1:])
    return np.stack([cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
                     for a, b in zip(grey[:-1], grey[1:])])


def dense_flow_quantize(flow: np.ndarray, bound: float) -> np.ndarray:
    """dense_flow's convertFlowToImage: cvRound(255 (f + bound) / (2 bound)), clipped to 0..255."""
    return np.clip(np.rint(255.0 * (flow + bound) / (2 * bound)), 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    assert ok
    return buf.tobytes()


def build(scratch: Path, videos: int, max_frames: int, flow_method: str, pairs: int, rebuild: bool) -> pd.DataFrame:
    """Write shards/ and rawframes/ for ``videos`` videos (cycling the real clips); returns the index."""
    clips = real_clips()
    params = {"version": LAYOUT_VERSION, "videos": videos, "max_frames": max_frames, "flow": flow_method,
              "pairs": pairs, "size": SIZE, "bound": BOUND, "quality": QUALITY, "clips": [str(c) for c in clips]}
    stamp = scratch / "stamp.json"
    index_csv = scratch / "index.csv"
    params = json.loads(json.dumps(params))  # tuples -> lists, as read back
    if not rebuild and stamp.exists() and json.loads(stamp.read_text()) == params and index_csv.exists():
        print(f"reusing the layouts in {scratch}", file=sys.stderr)
        return pd.read_csv(index_csv)
    for sub in ("shards", "rawframes"):
        shutil.rmtree(scratch / sub, ignore_errors=True)
        (scratch / sub).mkdir(parents=True)
    stamp.unlink(missing_ok=True)
    cache = scratch / "flowcache"
    cache.mkdir(parents=True, exist_ok=True)
    decoded = {}
    for c, clip in enumerate(clips):
        frames = read_frames(clip, SIZE)[:max_frames]
        f = cache / f"{clip.parent.parent.name}-{clip.stem}-{flow_method}-{pairs}.npy"
        if not f.exists():
            t0 = time.perf_counter()
            np.save(f, compute_flow(frames, flow_method, pairs))
            print(f"{flow_method} flow for {clip.name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        flow = np.load(f)
        fields = flow[np.arange(len(frames) - 1) % len(flow)]  # cycle the computed fields over the video
        q_ours = quantize_flow(normalize(fields, BOUND))
        q_dense = dense_flow_quantize(fields, BOUND)
        raw = {f"img_{t + 1:05d}.jpg": jpeg(img) for t, img in enumerate(frames)}
        for t in range(len(fields)):
            raw[f"flow_x_{t + 1:05d}.jpg"] = jpeg(q_dense[t, :, :, 0])
            raw[f"flow_y_{t + 1:05d}.jpg"] = jpeg(q_dense[t, :, :, 1])
        decoded[c] = (frames, q_ours, raw)
    rows = []
    t0 = time.perf_counter()
    for v in range(videos):
        c = v % len(clips)
        frames, q_ours, raw = decoded[c]
        vid = f"{clips[c].stem}-{v // len(clips):02d}"
        shard = scratch / "shards" / f"{vid}.h5"
        attrs = {"video_id": vid, "label": c, "class_name": clips[c].parent.name, "fps": 25.0, "source": str(clips[c]),
                 "flow_backend": flow_method, "flow_params": {}, "flow_bound": BOUND}
        write_shard(shard, frames, q_ours, attrs, QUALITY)
        d = scratch / "rawframes" / vid
        d.mkdir()
        for name, data in raw.items():  # the same encoder and quality as the shards (cv2, libjpeg-turbo)
            (d / name).write_bytes(data)
        rows.append({"video_id": vid, "shard": str(shard), "dir": str(d), "label": c, "frames": len(frames)})
    print(f"wrote {videos} videos in both layouts: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    index = pd.DataFrame(rows)
    index.to_csv(index_csv, index=False)
    stamp.write_text(json.dumps(params))
    return index


def layout_bytes(index: pd.DataFrame) -> dict:
    def usage(paths):
        st = [os.stat(p) for p in paths]
        return sum(s.st_size for s in st), sum(s.st_blocks * 512 for s in st)

    frames = int(index["frames"].sum())
    n = len(index)
    out = {}
    size, alloc = usage(index["shard"])
    out["shards"] = {"files": n, "bytes": size, "allocated": alloc}
    files = [os.path.join(d, f) for d in index["dir"] for f in os.listdir(d)]
    size, alloc = usage(files)
    dirs = sum(os.stat(d).st_blocks * 512 for d in index["dir"])
    out["rawframes"] = {"files": len(files), "bytes": size, "allocated": alloc + dirs}
    for v in out.values():
        v.update(per_video=v["bytes"] / n, per_frame=v["bytes"] / frames,
                 allocated_per_video=v["allocated"] / n, allocated_per_frame=v["allocated"] / frames)
    # bytes of one flow JPEG / one RGB JPEG, from the rawframes files
    rgb = [os.path.getsize(f) for f in files if "/img_" in f]
    flo = [os.path.getsize(f) for f in files if "/flow_" in f]
    out["mean_jpeg_bytes"] = {"rgb": float(np.mean(rgb)), "flow_component": float(np.mean(flo))}
    out["videos"], out["frames"] = n, frames
    # where the shards' bytes go: JPEG payload, full-size edge chunks, HDF5 metadata
    payload = storage = 0
    for path in index["shard"]:
        with h5py.File(path, "r") as f:
            for g in ("rgb", "flow"):
                payload += f[f"{g}/bytes"].shape[0]
                storage += f[f"{g}/bytes"].id.get_storage_size()
    out["shards"].update(jpeg_payload=payload, edge_chunk_padding=storage - payload,
                         hdf5_metadata_and_offsets=out["shards"]["bytes"] - storage)
    out["rawframes"]["jpeg_payload"] = out["rawframes"]["bytes"]
    out["shards_even_chunks"] = even_chunk_sizes(index)
    return out


def _store_even(group: h5py.Group, data: np.ndarray, offsets: np.ndarray) -> None:
    """Proposed shards._store: the same <= 64 KiB chunks, but of equal size, so the last one is not padded."""
    n = max(1, -(-data.size // shards.CHUNK_BYTES))
    group.create_dataset("bytes", data=data, chunks=(max(1, -(-data.size // n)),), fletcher32=True)
    group.create_dataset("offsets", data=offsets)


def _rewrite(src: str, dst: Path) -> int:
    """Rewrite a shard's datasets and attributes through shards._store (patched or not); returns its size."""
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        for grp in ("rgb", "flow"):
            shards._store(g.create_group(grp), f[f"{grp}/bytes"][()], f[f"{grp}/offsets"][()])
        for k, v in f.attrs.items():
            g.attrs[k] = v
    return dst.stat().st_size


def even_chunk_sizes(index: pd.DataFrame) -> dict:
    """Bytes of each distinct video's shard as written now and with _store_even (checked to read the same)."""
    tmp = Path(index["shard"].iloc[0]).parent.parent / "rechunk"
    tmp.mkdir(exist_ok=True)
    now = even = 0
    frames = 0
    for _, row in index.drop_duplicates("label").iterrows():
        a, b = tmp / "now.h5", tmp / "even.h5"
        now += _rewrite(row["shard"], a)
        original, shards._store = shards._store, _store_even
        try:
            even += _rewrite(row["shard"], b)
        finally:
            shards._store = original
        with Shard(a) as x, Shard(b) as y:
            assert all(np.array_equal(x.rgb(t), y.rgb(t)) for t in range(x.frames))
            assert all(np.array_equal(x.flow(t, 1), y.flow(t, 1)) for t in range(x.frames - 1))
        frames += int(row["frames"])
    shutil.rmtree(tmp)
    n = index["label"].nunique()
    return {"videos": n, "now_per_video": now / n, "even_per_video": even / n, "now_per_frame": now / frames,
            "even_per_frame": even / frames}


# ----------------------------------------------------------------------------- rawframes loader

class RawFramesDataset(Dataset):
    """TSN-pytorch style loading of dense_flow rawframes: PIL open per file, convert, crop/flip per image, stack.

    Same snippet positions, crop and flip as ``TSNDataset`` (same rng stream), same output
    (uint8 rgb (K, h, w, 3), flow (K, h, w, 2L) x0 y0 x1 y1 ...), so only the reading differs.
    Flipping inverts flow-x (ImageOps.invert, as TSN's GroupRandomHorizontalFlip does).
    ``decoder='cv2'`` reads each file's bytes and decodes with cv2.imdecode (mmaction's
    RawFrameDecode with the default cv2 backend) instead of PIL.
    """

    def __init__(self, videos: pd.DataFrame, modalities=("rgb", "flow"), *, segments=SEGMENTS, length=LENGTH,
                 crop=CROP, hflip=True, seed=0, decoder="pil"):
        self.dirs = videos["dir"].tolist()
        self.labels = videos["label"].astype(int).tolist()
        self.frames = videos["frames"].astype(int).tolist()
        self.modalities, self.segments, self.length, self.crop = tuple(modalities), segments, length, crop
        self.hflip, self.seed, self.epoch, self.decoder = hflip, seed, 0, decoder

    def __len__(self) -> int:
        return len(self.dirs)

    def _load(self, path: str, mode: str) -> Image.Image:
        return Image.open(path).convert(mode)

    def __getitem__(self, i: int) -> dict:
        d, frames = self.dirs[i], self.frames[i]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        offsets = sampling.train_offsets(sampling.positions(frames, self.length), self.segments, rng)
        if self.decoder == "cv2":
            return self._getitem_cv2(i, d, frames, offsets, rng)
        if self.decoder == "cv2-fast":
            return self._getitem_cv2_fast(i, d, frames, offsets, rng)
        rgb, flow = [], []
        if "rgb" in self.modalities:
            rgb = [self._load(p, "RGB") for p in self.rgb_paths(d, offsets)]
        if "flow" in self.modalities:
            flow = [self._load(p, "L") for p in self.flow_paths(d, frames, offsets)]
        rgb, flow = self.crop_flip(rgb, flow, rng)
        return self.item(i, rgb, flow)

    def rgb_paths(self, d: str, offsets) -> list[str]:
        return [os.path.join(d, f"img_{int(t) + 1:05d}.jpg") for t in offsets]

    def flow_paths(self, d: str, frames: int, offsets) -> list[str]:
        """flow_x, flow_y of every field of every stack, in TSN's order (fields past the end repeat the last)."""
        paths = []
        for t in offsets:
            for k in range(int(t), int(t) + self.length):
                k = min(k, frames - 2) + 1
                paths += [os.path.join(d, f"flow_x_{k:05d}.jpg"), os.path.join(d, f"flow_y_{k:05d}.jpg")]
        return paths

    def crop_flip(self, rgb: list, flow: list, rng: np.random.Generator) -> tuple[list, list]:
        """TSN's GroupRandomCrop and GroupRandomHorizontalFlip on PIL images (flow-x inverted on a flip)."""
        w, h = (rgb or flow)[0].size
        top, left = transforms.random_crop_box(h, w, self.crop, rng)
        flip = bool(self.hflip and rng.random() < 0.5)
        box = (left, top, left + self.crop, top + self.crop)
        rgb = [im.crop(box) for im in rgb]
        flow = [im.crop(box) for im in flow]
        if flip:
            rgb = [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for im in rgb]
            flow = [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for im in flow]
            flow[0::2] = [ImageOps.invert(im) for im in flow[0::2]]
        return rgb, flow

    def item(self, i: int, rgb: list, flow: list) -> dict:
        item = {"label": self.labels[i], "index": i}
        if rgb:
            item["rgb"] = torch.from_numpy(np.stack([np.asarray(im) for im in rgb]))
        if flow:  # TSN's Stack: concatenate along channels, then one (K, h, w, 2L) view
            x = np.stack([np.asarray(im) for im in flow], -1).reshape(self.crop, self.crop, self.segments, -1)
            item["flow"] = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1, 3)))
        return item

    def _getitem_cv2_fast(self, i, d, frames, offsets, rng) -> dict:
        """The shards-fast code path (see fast_getitem) on rawframes files: isolates the layout's own effect."""
        def load(path, flags):
            with open(path, "rb") as f:
                return cv2.imdecode(np.frombuffer(f.read(), np.uint8), flags)

        rgb, flow = [], []
        if "rgb" in self.modalities:
            paths = [os.path.join(d, f"img_{int(t) + 1:05d}.jpg") for t in offsets]
            if IMREAD_COLOR_RGB is not None:
                rgb = [load(p, IMREAD_COLOR_RGB) for p in paths]
            else:
                rgb = [cv2.cvtColor(load(p, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for p in paths]
        if "flow" in self.modalities:
            for t in offsets:
                ks = [min(k, frames - 2) + 1 for k in range(int(t), int(t) + self.length)]
                flow.append([load(os.path.join(d, f"flow_{c}_{k:05d}.jpg"), cv2.IMREAD_GRAYSCALE)
                             for k in ks for c in "xy"])
        return _fast_views(self, i, rgb, flow, rng, INVERT)

    def _getitem_cv2(self, i, d, frames, offsets, rng) -> dict:
        def load(path, flags):
            with open(path, "rb") as f:
                return cv2.imdecode(np.frombuffer(f.read(), np.uint8), flags)

        snippets = {}
        if "rgb" in self.modalities:
            snippets["rgb"] = np.stack([cv2.cvtColor(load(os.path.join(d, f"img_{int(t) + 1:05d}.jpg"), cv2.IMREAD_COLOR),
                                                     cv2.COLOR_BGR2RGB) for t in offsets])
        if "flow" in self.modalities:
            ks = [[min(k, frames - 2) + 1 for k in range(int(t), int(t) + self.length)] for t in offsets]
            snippets["flow"] = np.stack([np.stack([np.stack([load(os.path.join(d, f"flow_{c}_{k:05d}.jpg"),
                                                                  cv2.IMREAD_GRAYSCALE) for c in "xy"], -1)
                                                   for k in row]) for row in ks])
        h, w = snippets[self.modalities[0]].shape[-3:-1]
        top, left = transforms.random_crop_box(h, w, self.crop, rng)
        flip = bool(self.hflip and rng.random() < 0.5)
        item = {"label": self.labels[i], "index": i}
        for m, x in snippets.items():
            x = transforms.crop(x, top, left, self.crop)
            if m == "rgb":
                item[m] = torch.from_numpy(np.ascontiguousarray(x[..., ::-1, :] if flip else x))
            else:
                if flip:
                    x = x[..., ::-1, :].copy()
                    x[..., 0] = 255 - x[..., 0]
                k, l, hh, ww, _ = x.shape
                item[m] = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 3, 1, 4).reshape(k, hh, ww, 2 * l)))
        return item


# ----------------------------------------------------------------------------- proposed loader changes

NEG_X = np.minimum(256 - np.arange(256), 255).astype(np.uint8)  # transforms.hflip_flow's x negation as a table
INVERT = (255 - np.arange(256)).astype(np.uint8)  # dense_flow's: ImageOps.invert
IMREAD_COLOR_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.10
FAST = {"one_read": True, "rgb_direct": True}  # options of fast_getitem (set before workers fork)
_orig_getitem = TSNDataset.__getitem__


def _read(shard: Shard, data, lo: int, hi: int) -> np.ndarray:
    try:
        return data[lo:hi]
    except OSError as e:
        raise shards.ShardError(f"{shard.path}: checksum mismatch or read error ({e}); delete it and re-run") from None


def _decode(shard: Shard, buf: np.ndarray, flags: int, k: int) -> np.ndarray:
    img = cv2.imdecode(buf, flags)
    if img is None:
        raise shards.ShardError(f"{shard.path}: undecodable JPEG at index {k}; delete it and re-run")
    return img


def fast_getitem(self: TSNDataset, i: int) -> dict:
    """TSNDataset.__getitem__ (train) rewritten for speed; bit-identical output.

    - crop and flip each decoded plane with OpenCV (cv2.flip, flow-x negated with a cv2.LUT) and
      interleave the flow planes with cv2.merge straight into the (K, h, w, 2L) output, instead of
      stacking full frames, flipping/negating via int16 and a 5-D transposing copy in numpy;
    - FAST["one_read"]: one h5py read per flow stack (its 2L JPEGs are contiguous) instead of 2L;
    - FAST["rgb_direct"]: decode RGB straight to RGB (cv2.IMREAD_COLOR_RGB), no cvtColor.
    The crop box and flip are drawn from the same rng stream after the snippet positions, as before.
    """
    if not self.train:
        return _orig_getitem(self, i)
    n = sampling.positions(self.frames[i], self.length)
    rng = np.random.default_rng([self.seed, self.epoch, i])
    offsets = sampling.train_offsets(n, self.segments, rng)
    shard = self.cache.get(self.shards[i])
    rgb, flow = [], []
    if "rgb" in self.modalities:
        for t in offsets:
            t = int(t)
            buf = _read(shard, shard._rgb, shard._rgb_off[t], shard._rgb_off[t + 1])
            if FAST["rgb_direct"] and IMREAD_COLOR_RGB is not None:
                rgb.append(_decode(shard, buf, IMREAD_COLOR_RGB, t))
            else:
                rgb.append(cv2.cvtColor(_decode(shard, buf, cv2.IMREAD_COLOR, t), cv2.COLOR_BGR2RGB))
    if "flow" in self.modalities:
        off, last = shard._flow_off, shard.frames - 2
        for t in offsets:
            ks = [2 * min(j, last) + c for j in range(int(t), int(t) + self.length) for c in range(2)]
            if FAST["one_read"]:
                lo = int(off[ks[0]])
                buf = _read(shard, shard._flow, lo, int(off[ks[-1] + 1]))
                flow.append([_decode(shard, buf[off[k] - lo:off[k + 1] - lo], cv2.IMREAD_GRAYSCALE, k) for k in ks])
            else:
                flow.append([_decode(shard, _read(shard, shard._flow, off[k], off[k + 1]), cv2.IMREAD_GRAYSCALE, k)
                             for k in ks])
    return _fast_views(self, i, rgb, flow, rng, NEG_X)


def _fast_views(self, i: int, rgb: list, flow: list, rng: np.random.Generator, neg: np.ndarray) -> dict:
    """Draw the crop box and flip (same rng stream as TSNDataset), crop/flip each decoded plane with OpenCV,
    negate flow-x with the table ``neg`` and interleave the flow planes into (K, h, w, 2L) with cv2.merge."""
    h, w = (rgb[0] if rgb else flow[0][0]).shape[:2]
    top, left = transforms.random_crop_box(h, w, self.crop, rng)
    flip = bool(self.hflip and rng.random() < 0.5)
    box = (slice(top, top + self.crop), slice(left, left + self.crop))
    item = {"label": self.labels[i], "index": i}
    if rgb:
        item["rgb"] = torch.from_numpy(np.stack([cv2.flip(x[box], 1) if flip else x[box] for x in rgb]))
    if flow:
        out = np.empty((len(flow), self.crop, self.crop, 2 * self.length), np.uint8)
        for k, planes in enumerate(flow):
            planes = [p[box] for p in planes]
            if flip:
                planes = [cv2.LUT(cv2.flip(p, 1), neg) if j % 2 == 0 else cv2.flip(p, 1) for j, p in enumerate(planes)]
            out[k] = cv2.merge(planes)
        item["flow"] = torch.from_numpy(out)
    return item


def shard_bytes_item(self: TSNDataset, i: int) -> dict:
    """What a loader feeding a GPU JPEG decoder (nvJPEG, e.g. torchvision.io.decode_jpeg(device="cuda")) would do
    with shards: the clip's 33 JPEGs as bytes (one read per RGB frame and per flow stack) + crop box and flip."""
    n = sampling.positions(self.frames[i], self.length)
    rng = np.random.default_rng([self.seed, self.epoch, i])
    offsets = sampling.train_offsets(n, self.segments, rng)
    shard = self.cache.get(self.shards[i])
    ro, fo, last = shard._rgb_off, shard._flow_off, shard.frames - 2
    rgb = [_read(shard, shard._rgb, ro[int(t)], ro[int(t) + 1]) for t in offsets]
    flow = []
    for t in offsets:
        ks = [2 * min(j, last) + c for j in range(int(t), int(t) + self.length) for c in range(2)]
        buf = _read(shard, shard._flow, fo[ks[0]], fo[ks[-1] + 1])
        flow.append((buf, fo[ks] - fo[ks[0]], fo[np.array(ks) + 1] - fo[ks[0]]))
    top, left = transforms.random_crop_box(SIZE[0], SIZE[1], self.crop, rng)
    return {"rgb": rgb, "flow": flow, "box": (top, left), "flip": bool(self.hflip and rng.random() < 0.5)}


def raw_bytes_item(self: RawFramesDataset, i: int) -> dict:
    """The same for rawframes: 33 files read as bytes."""
    d, frames = self.dirs[i], self.frames[i]
    rng = np.random.default_rng([self.seed, self.epoch, i])
    offsets = sampling.train_offsets(sampling.positions(frames, self.length), self.segments, rng)

    def read(name):
        with open(os.path.join(d, name), "rb") as f:
            return f.read()

    rgb = [read(f"img_{int(t) + 1:05d}.jpg") for t in offsets]
    flow = [[read(f"flow_{c}_{min(k, frames - 2) + 1:05d}.jpg") for k in range(int(t), int(t) + self.length)
             for c in "xy"] for t in offsets]
    top, left = transforms.random_crop_box(SIZE[0], SIZE[1], self.crop, rng)
    return {"rgb": rgb, "flow": flow, "box": (top, left), "flip": bool(self.hflip and rng.random() < 0.5)}


class Patch:
    """Apply proposed loader changes (in this process and, via fork, in DataLoader workers)."""

    OPTIONS = {  # name: fast_getitem options
        "views_cv2": {"one_read": False, "rgb_direct": False},
        "views_cv2+one_read": {"one_read": True, "rgb_direct": False},
        "fast": {"one_read": True, "rgb_direct": True},
    }

    def __init__(self, name: str | None):
        self.name = name

    def __enter__(self):
        if self.name:
            FAST.update(self.OPTIONS[self.name])
            TSNDataset.__getitem__ = fast_getitem
        return self

    def __exit__(self, *exc):
        TSNDataset.__getitem__ = _orig_getitem


# ----------------------------------------------------------------------------- throughput

def _tsn(cache_size: int = 64):
    return lambda ix: TSNDataset(ix, segments=SEGMENTS, length=LENGTH, crop=CROP, train=True, hflip=True,
                                 cache_size=cache_size)


LOADERS = {  # name: (dataset factory, Patch name)
    "shards": (_tsn(), None),  # TSNDataset exactly as training builds it
    "rawframes": (lambda ix: RawFramesDataset(ix), None),
    # cache_size=1: every clip opens its shard, as with a real dataset (UCF-101: 9.5k videos >> 64 cached shards)
    "shards-nocache": (_tsn(1), None),
    "rawframes-cv2": (lambda ix: RawFramesDataset(ix, decoder="cv2"), None),  # mmaction-style decoding
    "rawframes-fast": (lambda ix: RawFramesDataset(ix, decoder="cv2-fast"), None),  # the shards-fast code path
    "shards-fast": (_tsn(), "fast"),
    "shards-fast-nocache": (_tsn(1), "fast"),
}


class Precomputed(Dataset):
    """Returns copies of one real item: the DataLoader's collation + IPC cost with zero loading work."""

    def __init__(self, item, n):
        self.item, self.n = item, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {k: (v.clone() if torch.is_tensor(v) else v) for k, v in self.item.items()}


def _cpu(who) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def run_loader(dataset: Dataset, workers: int, batches: int, batch_size: int, seed: int) -> dict:
    """Wall-clock clips/s from creating the iterator to the last batch (worker start-up included), and the
    CPU seconds per clip of this process plus its (joined) workers."""
    sampler = RandomSampler(dataset, num_samples=batches * batch_size, generator=torch.Generator().manual_seed(seed))
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, drop_last=True)
    cpu0 = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    n, first = 0, None
    it = iter(loader)
    for batch in it:
        n += len(batch["label"])
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    del it, batch  # workers have been joined at StopIteration; their CPU time is now in RUSAGE_CHILDREN
    cpu = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN) - cpu0
    return {"clips": n, "seconds": end - t0, "clips_per_s": n / (end - t0), "cpu_ms_per_clip": cpu / n * 1e3,
            "first_batch_s": first - t0, "after_first_clips_per_s": (n - batch_size) / (end - first)}


def run_threaded(dataset: Dataset, threads: int, batches: int, batch_size: int, seed: int) -> dict:
    """Like run_loader, but items are loaded by a pool of threads in this process (no worker processes, no
    shared-memory IPC): cv2's decoding and image ops release the GIL. Same sampler; one batch kept in flight."""
    sampler = RandomSampler(dataset, num_samples=batches * batch_size, generator=torch.Generator().manual_seed(seed))
    order = list(sampler)
    cpu0 = _cpu(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    n, first = 0, None
    with ThreadPoolExecutor(threads) as pool:
        pending = [pool.submit(dataset.__getitem__, i) for i in order[:2 * batch_size]]
        nxt = len(pending)
        for _ in range(batches):
            items = [f.result() for f in pending[:batch_size]]
            pending = pending[batch_size:] + [pool.submit(dataset.__getitem__, i) for i in order[nxt:nxt + batch_size]]
            nxt += batch_size
            batch = default_collate(items)
            n += len(batch["label"])
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    cpu = _cpu(resource.RUSAGE_SELF) - cpu0
    return {"clips": n, "seconds": end - t0, "clips_per_s": n / (end - t0), "cpu_ms_per_clip": cpu / n * 1e3,
            "first_batch_s": first - t0, "after_first_clips_per_s": (n - batch_size) / (end - first)}


def read_all(paths) -> float:
    """Warm the page cache: read every file once; returns MB/s."""
    t0, total = time.perf_counter(), 0
    for p in paths:
        with open(p, "rb") as f:
            total += len(f.read())
    return total / 1e6 / (time.perf_counter() - t0)


def evict(paths) -> None:
    """Drop the files from the page cache (posix_fadvise DONTNEED; works without /proc/sys/vm/drop_caches)."""
    os.sync()
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]


def resident_fraction(paths) -> float:
    """Fraction of the files' pages in the page cache (mincore)."""
    page = mmap.PAGESIZE
    res = tot = 0
    for p in paths:
        size = os.path.getsize(p)
        if not size:
            continue
        fd = os.open(p, os.O_RDONLY)
        try:
            addr = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
            if addr in (None, ctypes.c_void_p(-1).value):
                return float("nan")
            n = (size + page - 1) // page
            vec = ctypes.create_string_buffer(n)
            _libc.mincore(addr, size, vec)
            res += sum(b & 1 for b in vec.raw)
            tot += n
            _libc.munmap(addr, size)
        finally:
            os.close(fd)
    return res / tot if tot else float("nan")


# ----------------------------------------------------------------------------- in-process profile

class Timer:
    def __init__(self):
        self.t = {}

    def add(self, key, dt):
        self.t[key] = self.t.get(key, 0.0) + dt


def profile_shard_clip(ds: TSNDataset, i: int, tm: Timer, open_each: bool) -> dict:
    """TSNDataset.__getitem__ (train) with every stage timed; the result must equal ds[i]."""
    pc = time.process_time
    t = pc()
    shard = Shard(ds.shards[i]) if open_each else ds.cache.get(ds.shards[i])
    tm.add("h5py open + offsets", pc() - t)

    def read(data, offsets, k):
        t = pc()
        buf = data[offsets[k]:offsets[k + 1]]
        tm.add("h5py reads", pc() - t)
        return buf

    n = sampling.positions(ds.frames[i], ds.length)
    rng = np.random.default_rng([ds.seed, ds.epoch, i])
    offsets = sampling.train_offsets(n, ds.segments, rng)
    rgb = []
    for s in offsets:
        buf = read(shard._rgb, shard._rgb_off, int(s))
        t = pc()
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        tm.add("decode rgb", pc() - t)
        t = pc()
        rgb.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        tm.add("cvtColor BGR->RGB", pc() - t)
    stacks = []
    last = shard.frames - 2
    for s in offsets:
        fields = []
        for k in range(int(s), int(s) + ds.length):
            k = min(k, last)
            pair = []
            for c in range(2):
                buf = read(shard._flow, shard._flow_off, 2 * k + c)
                t = pc()
                pair.append(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE))
                tm.add("decode flow", pc() - t)
            t = pc()
            fields.append(np.stack(pair, -1))
            tm.add("stack/crop/flip/copy", pc() - t)
        t = pc()
        stacks.append(np.stack(fields))
        tm.add("stack/crop/flip/copy", pc() - t)
    t = pc()
    snippets = {"rgb": np.stack(rgb), "flow": np.stack(stacks)}
    h, w = snippets["rgb"].shape[-3:-1]
    top, left = transforms.random_crop_box(h, w, ds.crop, rng)
    flip = bool(ds.hflip and rng.random() < 0.5)
    item = {"label": ds.labels[i], "index": i}
    for m, x in snippets.items():
        item[m] = torch.from_numpy(ds._view(m, x, top, left, flip))
    tm.add("stack/crop/flip/copy", pc() - t)
    if open_each:
        shard.close()
    return item


def profile_raw_clip(ds: RawFramesDataset, i: int, tm: Timer) -> dict:
    """RawFramesDataset.__getitem__ (PIL) with file reading, decoding and the rest timed separately."""
    pc = time.process_time
    d, frames = ds.dirs[i], ds.frames[i]
    rng = np.random.default_rng([ds.seed, ds.epoch, i])
    offsets = sampling.train_offsets(sampling.positions(frames, ds.length), ds.segments, rng)

    def load(path, mode, key):
        t = pc()
        with open(path, "rb") as f:
            data = f.read()
        tm.add("file open + read", pc() - t)
        t = pc()
        im = Image.open(io.BytesIO(data))
        im = im.convert(mode)  # loads (decodes) the JPEG; convert to the same mode is a copy
        tm.add(f"PIL decode+convert {key}", pc() - t)
        return im

    rgb = [load(p, "RGB", "rgb") for p in ds.rgb_paths(d, offsets)]
    flow = [load(p, "L", "flow") for p in ds.flow_paths(d, frames, offsets)]
    t = pc()
    rgb, flow = ds.crop_flip(rgb, flow, rng)
    tm.add("PIL crop/flip/invert", pc() - t)
    t = pc()
    item = ds.item(i, rgb, flow)
    tm.add("np.asarray/stack/copy", pc() - t)
    return item


def ms_per_clip(fn, items, repeat) -> float:
    """Median over ``repeat`` passes of the mean CPU ms (process time) per call of fn(i), i in items."""
    times = []
    for _ in range(repeat):
        t = time.process_time()
        for i in items:
            fn(i)
        times.append((time.process_time() - t) / len(items) * 1e3)
    return statistics.median(times)


class _Bound:
    """dataset-like object whose __getitem__ is fn(dataset, i)."""

    def __init__(self, ds, fn):
        self.ds, self.fn = ds, fn

    def __getitem__(self, i):
        return self.fn(self.ds, i)


def same_item(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a)


def profile(index: pd.DataFrame, clips: int, repeat: int, batch_size: int) -> dict:
    """Single process, no DataLoader, CPU time: per-clip cost of each loader, per-stage breakdowns,
    per-call costs, collation; and checks that the profiled paths and the proposals are faithful."""
    rng = np.random.default_rng(1)
    items = [int(i) for i in rng.integers(0, len(index), clips)]
    out = {"clips": clips, "passes": repeat, "timer": "time.process_time (CPU time of this process)"}
    ours, raw = LOADERS["shards"][0](index), LOADERS["rawframes"][0](index)
    for i in set(items):  # open every shard once, as in the DataLoader runs (cache 64 >= videos)
        ours[i]

    checks = {}
    tm = Timer()
    check_items = list(range(len(index)))  # every video once (about half of them flipped)
    checks["profiled shard path == TSNDataset"] = all(same_item(profile_shard_clip(ours, i, tm, False), ours[i])
                                                      for i in check_items)
    checks["profiled rawframes path == RawFramesDataset"] = all(same_item(profile_raw_clip(raw, i, tm), raw[i])
                                                                for i in check_items)
    for epoch in (0, 1):
        ours.set_epoch(epoch)
        ref = [ours[i] for i in check_items]
        for name in Patch.OPTIONS:
            with Patch(name):
                key = f"{name} == TSNDataset (bit-identical)"
                checks[key] = checks.get(key, True) and all(same_item(ours[i], r) for i, r in zip(check_items, ref))
    ours.set_epoch(0)
    zero = np.zeros(0)
    for i in check_items:
        x = ours[i]["flow"].numpy()
        zero = np.append(zero, [(x == 0).mean()])
    checks["fraction of flow pixels decoding to 0 (q=0; the flip table maps it to 255 as hflip_flow does)"] = \
        float(zero.mean())
    cv = LOADERS["rawframes-cv2"][0](index)
    rf = LOADERS["rawframes-fast"][0](index)
    checks["rawframes-cv2 == rawframes-fast == rawframes (bit-identical)"] = all(
        same_item(cv[i], raw[i]) and same_item(rf[i], raw[i]) for i in check_items)
    d_rgb, d_flow = [], []
    for i in check_items:
        a, b, c = ours[i], raw[i], cv[i]
        d_rgb.append(float((a["rgb"].float() - b["rgb"].float()).abs().mean()))
        d_rgb.append(float((c["rgb"].float() - b["rgb"].float()).abs().mean()))
        # both quantisations back to [-1, 1]: ours (q - 128) / 127, dense_flow's q / 255 * 2 - 1
        d_flow.append(float(((a["flow"].float() - 128) / 127 - (b["flow"].float() / 255 * 2 - 1)).abs().mean()))
    checks["rgb mean |shards - rawframes| and |rawframes-cv2 - rawframes| (0..255)"] = float(np.mean(d_rgb))
    checks["flow mean |shards - rawframes| in [-1, 1] units (different quantisations)"] = float(np.mean(d_flow))
    out["checks"] = checks

    cases = {}  # name: (dataset, Patch name); timed round-robin, so that load changes hit all alike
    for name in ("shards", "shards-nocache", "shards-fast", "shards-fast-nocache", "rawframes", "rawframes-cv2",
                 "rawframes-fast"):
        cases[name] = (LOADERS[name][0](index), LOADERS[name][1])
    for name in Patch.OPTIONS:
        cases[f"shards + {name}"] = (ours, name)
    cases["shards bytes only (GPU decode)"] = (_Bound(ours, shard_bytes_item), None)
    cases["rawframes bytes only (GPU decode)"] = (_Bound(raw, raw_bytes_item), None)
    for m in ("rgb", "flow"):  # one stream at a time, as stage-1 training does
        one = TSNDataset(index, (m,), segments=SEGMENTS, length=LENGTH, crop=CROP)
        cases[f"shards {m} only"] = (one, None)
        cases[f"shards-fast {m} only"] = (one, "fast")
        cases[f"rawframes {m} only"] = (RawFramesDataset(index, (m,)), None)
    for ds, patch in cases.values():
        with Patch(patch):
            for i in set(items):  # open the shards (cache permitting), warm up
                ds[i]
    passes = {name: [] for name in cases}
    for _ in range(repeat):
        for name, (ds, patch) in cases.items():
            with Patch(patch):
                passes[name].append(ms_per_clip(ds.__getitem__, items, 1))
    e2e = {name: statistics.median(v) for name, v in passes.items()}
    out["ms_per_clip_passes"] = passes
    out["ms_per_clip_min"] = {name: min(v) for name, v in passes.items()}
    out["ms_per_clip"] = e2e

    def breakdown(fn):
        runs = []
        for _ in range(repeat):
            tm = Timer()
            for i in items:
                fn(i, tm)
            runs.append(tm.t)
        return {k: statistics.median(r[k] for r in runs) / len(items) * 1e3 for k in runs[0]}

    out["breakdown_ms_per_clip"] = {
        "shards": breakdown(lambda i, tm: profile_shard_clip(ours, i, tm, False)),
        "shards (open per clip)": breakdown(lambda i, tm: profile_shard_clip(ours, i, tm, True)),
        "rawframes (PIL)": breakdown(lambda i, tm: profile_raw_clip(raw, i, tm)),
    }

    # per call, on the same bytes (one RGB frame, one flow component) and one shard
    r0 = index.iloc[0]
    rgb_bytes = Path(r0["dir"], "img_00010.jpg").read_bytes()
    flo_bytes = Path(r0["dir"], "flow_x_00010.jpg").read_bytes()
    rb, fb = np.frombuffer(rgb_bytes, np.uint8), np.frombuffer(flo_bytes, np.uint8)
    sh = ours.cache.get(r0["shard"])
    full = np.stack([sh.flow(3, LENGTH)] * SEGMENTS)  # (K, L, H, W, 2) as TSNDataset._snippets builds it
    box = transforms.crop(full, 10, 20, CROP)
    n = 200
    calls = {
        "cv2 decode rgb (IMREAD_COLOR + cvtColor)": lambda: cv2.cvtColor(cv2.imdecode(rb, cv2.IMREAD_COLOR),
                                                                         cv2.COLOR_BGR2RGB),
        "cv2 decode rgb (IMREAD_COLOR_RGB)": lambda: cv2.imdecode(rb, IMREAD_COLOR_RGB or cv2.IMREAD_COLOR),
        "PIL decode rgb (open+convert+asarray)": lambda: np.asarray(Image.open(io.BytesIO(rgb_bytes)).convert("RGB")),
        "cv2 decode flow (IMREAD_GRAYSCALE)": lambda: cv2.imdecode(fb, cv2.IMREAD_GRAYSCALE),
        "PIL decode flow (open+convert+asarray)": lambda: np.asarray(Image.open(io.BytesIO(flo_bytes)).convert("L")),
        "h5py read, one flow JPEG": lambda: sh._flow[sh._flow_off[20]:sh._flow_off[21]],
        "h5py read, one 10-JPEG flow stack": lambda: sh._flow[sh._flow_off[20]:sh._flow_off[30]],
        "open+read one rawframes file": lambda: Path(r0["dir"], "flow_x_00010.jpg").read_bytes(),
        "Shard() open + close": lambda: Shard(r0["shard"]).close(),
        "clip: hflip_flow of the cropped (K, L, 224, 224, 2) stack": lambda: transforms.hflip_flow(box),
        "clip: (K, L, h, w, 2) -> (K, h, w, 2L) transposing copy": lambda: np.ascontiguousarray(
            box.transpose(0, 2, 3, 1, 4).reshape(SEGMENTS, CROP, CROP, 2 * LENGTH)),
    }
    out["per_call_ms"] = {k: ms_per_clip(lambda _: fn(), range(50 if k.startswith(("Shard", "clip")) else n), repeat)
                          for k, fn in calls.items()}

    batch = [ours[i] for i in items[:batch_size]]
    out["collate_ms_per_clip"] = ms_per_clip(lambda _: default_collate(batch), range(10), repeat) / batch_size
    return out


# ----------------------------------------------------------------------------- GPU estimate

def gpu_estimate(ms: dict) -> dict:
    """How many clips/s ResNet-50 streams consume on one H100, and the loader cores that needs at ``ms`` (CPU ms/clip)."""
    gmac_fwd = 4.09  # ResNet-50 forward at 224^2: 4.1 G multiply-adds (the "4.1 GFLOPs" of most tables)
    conv1_extra = 7 * 7 * 64 * 112 * 112 * (2 * LENGTH - 3) / 1e9  # the flow stream's conv1 has 2L = 10 input channels
    gflop_img = 2 * 3 * gmac_fwd  # fwd + bwd ~ 3x fwd; 2 FLOPs per multiply-add
    gflop_flow_img = 2 * 3 * (gmac_fwd + conv1_extra)
    gflop_clip = SEGMENTS * (gflop_img + gflop_flow_img)
    peak_bf16 = 989e12  # H100 SXM, dense BF16 (TF32: 495e12)
    at_40pct = 0.4 * peak_bf16 / (gflop_clip * 1e9)
    a100_amp_img_s = 2470  # NVIDIA DeepLearningExamples ResNet-50 v1.5 (PyTorch, DALI): 1x A100 80GB, AMP
    h100_over_a100 = 2.0  # assumed; the dense-peak ratio is 3.2x, but ResNet-50 training gains much less
    img_s = a100_amp_img_s * h100_over_a100
    assumed = img_s / (2 * SEGMENTS)  # both streams: 6 images per clip
    per_stream = img_s / SEGMENTS  # stage 1 trains one stream at a time: 3 images per clip
    out = {
        "gflop_per_image_fwd_bwd": gflop_img, "gflop_per_flow_image_fwd_bwd": gflop_flow_img,
        "gflop_per_clip_two_streams": gflop_clip, "clips_per_s_at_40pct_of_bf16_peak": at_40pct,
        "assumed_images_per_s": img_s, "assumed_clips_per_s_two_streams": assumed,
        "assumed_clips_per_s_one_stream": per_stream,
        "assumptions": (
            f"ResNet-50 forward {gmac_fwd} GMAC = {2 * gmac_fwd:.1f} GFLOP (the usual '4.1 GFLOPs' counts multiply-adds), "
            f"fwd+bwd = 3x fwd = {gflop_img:.1f} GFLOP per image; the flow stream's 10-channel conv1 adds "
            f"{conv1_extra:.2f} GMAC. 40% of the H100 SXM dense BF16 peak (989 TFLOP/s) would be {at_40pct:.0f} clips/s, "
            f"but ResNet-50 training does not get near that: NVIDIA's published {a100_amp_img_s} img/s on one A100 "
            f"(AMP) is {a100_amp_img_s * gflop_img / 312e3:.0%} of the A100's 312 TFLOP/s. Assumed H100 = "
            f"{h100_over_a100}x A100 = {img_s:.0f} img/s: {assumed:.0f} clips/s with both streams (6 images per clip), "
            f"{per_stream:.0f} clips/s when one stream is trained alone (3 images per clip)."),
    }
    need = {}
    for name, v in ms.items():
        rate = per_stream if name.endswith(" only") else assumed
        need[name] = {"cpu_ms_per_clip": v, "clips_per_s_per_core": 1e3 / v, "gpu_clips_per_s": rate,
                      "cores_needed": rate * v / 1e3,
                      "cores_needed_at_40pct_peak": (at_40pct * (2 if name.endswith(" only") else 1)) * v / 1e3}
    out["loader_cores_needed"] = need
    return out


# ----------------------------------------------------------------------------- cold page cache

class _RandomAccessH5:
    """Stands in for the h5py module inside twostream.data.shards: opens shards through a Python file object
    with POSIX_FADV_RANDOM, so that the kernel does not read ahead around each (small) JPEG read."""

    def __getattr__(self, name):
        return getattr(h5py, name)

    @staticmethod
    def File(path, mode="r", **kw):  # noqa: N802
        f = open(path, "rb", buffering=0)
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
        return h5py.File(f, mode, **kw)


class RandomAccess:
    def __init__(self, on: bool):
        self.on = on

    def __enter__(self):
        if self.on:
            shards.h5py = _RandomAccessH5()

    def __exit__(self, *exc):
        shards.h5py = h5py


def _store_16k(group: h5py.Group, data: np.ndarray, offsets: np.ndarray) -> None:
    """_store_even with chunks of at most 16 KiB."""
    n = max(1, -(-data.size // (1 << 14)))
    group.create_dataset("bytes", data=data, chunks=(max(1, -(-data.size // n)),), fletcher32=True)
    group.create_dataset("offsets", data=offsets)


def cold_runs(index: pd.DataFrame, files: dict, args) -> dict:
    """One pass over every video with the layout evicted from the page cache (posix_fadvise DONTNEED), max
    workers; bytes pulled from disk per clip = resident fraction after the pass x layout bytes / clips."""
    small = Path(args.scratch) / "shards16k"
    shutil.rmtree(small, ignore_errors=True)
    small.mkdir()
    original, shards._store = shards._store, _store_16k
    try:
        paths16 = [str(small / Path(p).name) for p in index["shard"]]
        for src, dst in zip(index["shard"], paths16):
            _rewrite(src, Path(dst))
    finally:
        shards._store = original
    index16 = index.assign(shard=paths16)
    cases = {  # name: (loader, index, files, POSIX_FADV_RANDOM)
        "shards": ("shards", index, files["shards"], False),
        "rawframes": ("rawframes", index, files["rawframes"], False),
        "shards-fast": ("shards-fast", index, files["shards"], False),
        "shards-fast + FADV_RANDOM": ("shards-fast", index, files["shards"], True),
        "shards-fast + FADV_RANDOM + 16 KiB chunks": ("shards-fast", index16, paths16, True),
    }
    w = max(args.workers)
    n_batches = max(1, args.videos // args.batch_size)
    runs = {}
    for r in range(args.repeat):
        for name, (loader, ix, paths, random_access) in cases.items():
            evict(paths)
            before = resident_fraction(paths)
            factory, patch = LOADERS[loader]
            with Patch(patch), RandomAccess(random_access):
                res = run_loader(factory(ix), w, n_batches, args.batch_size, seed=100 + r)
            after = resident_fraction(paths)
            total = sum(os.path.getsize(p) for p in paths)
            res.update(resident_before=before, resident_after=after, MB_read_per_clip=after * total / res["clips"] / 1e6)
            runs.setdefault(name, []).append(res)
            print(f"  cold run {r}: {name:42s} {res['clips_per_s']:6.1f} clips/s, {res['MB_read_per_clip']:.2f} MB read "
                  f"per clip ({before:.0%} of the files cached before)", file=sys.stderr)
    out = {name: {"workers": w, "clips": rs[0]["clips"],
                  "clips_per_s_median": statistics.median(x["clips_per_s"] for x in rs),
                  "cpu_ms_per_clip_median": statistics.median(x["cpu_ms_per_clip"] for x in rs),
                  "MB_read_per_clip_median": statistics.median(x["MB_read_per_clip"] for x in rs),
                  "resident_before": [x["resident_before"] for x in rs]} for name, rs in runs.items()}
    out["shards16k_bytes_per_frame"] = sum(os.path.getsize(p) for p in paths16) / index["frames"].sum()
    shutil.rmtree(small)
    speeds = {}
    for r in range(args.repeat):
        for k, v in files.items():
            evict(v)
            speeds.setdefault(k, []).append(read_all(v))
    out["cold_read_all_MBps_median"] = {k: statistics.median(v) for k, v in speeds.items()}
    print(f"\nCold page cache, one pass over the {args.videos} videos ({n_batches * args.batch_size} clips), "
          f"workers={w}, medians of "
          f"{args.repeat}:")
    for name in cases:
        v = out[name]
        print(f"  {name:42s} {v['clips_per_s_median']:6.1f} clips/s, {v['MB_read_per_clip_median']:.2f} MB read per clip")
    print(f"  (16 KiB chunks: {out['shards16k_bytes_per_frame'] / 1e3:.2f} kB/frame on disk)")
    print("  cold read of every file once, in order: " + ", ".join(
        f"{k} {v:.0f} MB/s" for k, v in out["cold_read_all_MBps_median"].items()))
    read_all(files["shards"] + files["rawframes"])  # warm again
    return out


# ----------------------------------------------------------------------------- main

def load_situation() -> dict:
    return {"loadavg": os.getloadavg(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "opencv": cv2.__version__, "pillow": Image.__version__,
            "h5py": h5py.__version__, "cv2_threads": cv2.getNumThreads(), "torch_threads": torch.get_num_threads()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=int, default=32)
    p.add_argument("--batches", type=int, default=20, help="batches per DataLoader run")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--layouts", nargs="+", default=["shards", "rawframes"], choices=list(LOADERS))
    p.add_argument("--extra", nargs="*", default=["shards-fast", "rawframes-fast", "shards-nocache"],
                   choices=list(LOADERS),
                   help="further loaders, run with --extra-workers only")
    p.add_argument("--extra-workers", type=int, nargs="*", default=[2])
    p.add_argument("--thread-loaders", nargs="*", default=["shards-fast", "rawframes"], choices=list(LOADERS),
                   help="loaders also run by a thread pool in the main process (no worker processes)")
    p.add_argument("--threads", type=int, nargs="*", default=[2])
    p.add_argument("--repeat", type=int, default=3, help="runs per configuration (medians are reported)")
    p.add_argument("--max-frames", type=int, default=96, help="frames per video (the clips' first ones)")
    p.add_argument("--flow", choices=("tvl1", "farneback"), default="tvl1")
    p.add_argument("--flow-pairs", type=int, default=12, help="frame pairs of real flow per clip (cached, cycled)")
    p.add_argument("--profile-clips", type=int, default=64, help="clips per in-process profile pass (0: skip)")
    p.add_argument("--profile-passes", type=int, default=5, help="in-process profile passes (medians are reported)")
    p.add_argument("--cold", action="store_true",
                   help="also cold-page-cache passes (every video once, max workers) after posix_fadvise(DONTNEED)")
    p.add_argument("--scratch", type=Path, default=REPO / "benchmarks" / "out" / "loader-data")
    p.add_argument("--rebuild", action="store_true")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads of this (main) process, which collates when workers=0 (0: torch's "
                        "default); DataLoader workers always use 1")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "loader.json")
    args = p.parse_args()

    started = time.perf_counter()
    default_threads = torch.get_num_threads()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    result = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "situation_start": load_situation()}
    index = build(args.scratch, args.videos, args.max_frames, args.flow, args.flow_pairs, args.rebuild)
    result["bytes"] = b = layout_bytes(index)
    print(f"\n{b['videos']} videos, {b['frames']} frames ({SIZE[0]}x{SIZE[1]}, JPEG q{QUALITY}, {args.flow} flow); "
          f"mean JPEG: RGB {b['mean_jpeg_bytes']['rgb'] / 1e3:.1f} kB, flow component "
          f"{b['mean_jpeg_bytes']['flow_component'] / 1e3:.1f} kB")
    for name in ("shards", "rawframes"):
        v = b[name]
        print(f"{name:10s} {v['files']:6d} files  {v['per_video'] / 1e6:6.3f} MB/video  "
              f"{v['per_frame'] / 1e3:6.2f} kB/frame  (allocated: {v['allocated_per_video'] / 1e6:6.3f} MB/video, "
              f"{v['allocated_per_frame'] / 1e3:6.2f} kB/frame)")
    sh, ev = b["shards"], b["shards_even_chunks"]
    print(f"shards: JPEG payload {sh['jpeg_payload'] / b['videos'] / 1e3:.1f} kB/video, padding of the last chunks "
          f"{sh['edge_chunk_padding'] / b['videos'] / 1e3:.1f} kB/video, HDF5 metadata + offsets "
          f"{sh['hdf5_metadata_and_offsets'] / b['videos'] / 1e3:.1f} kB/video; with equal-size chunks "
          f"(proposed _store) {ev['even_per_frame'] / 1e3:.2f} instead of {ev['now_per_frame'] / 1e3:.2f} kB/frame "
          f"over the {ev['videos']} distinct videos")

    files = {"shards": list(index["shard"]),
             "rawframes": [os.path.join(d, f) for d in index["dir"] for f in os.listdir(d)]}
    result["warm_read_MBps"] = {k: read_all(v) for k, v in files.items()}  # also warms the page cache

    # warm-cache DataLoader throughput; configurations interleaved so that load changes hit all alike
    configs = [(name, f"workers={w}") for w in args.workers for name in args.layouts]
    configs += [(name, f"workers={w}") for w in args.extra_workers for name in args.extra]
    configs += [(name, f"threads={t}") for t in args.threads for name in args.thread_loaders]
    configs = list(dict.fromkeys(configs))
    runs = {c: [] for c in configs}
    print(f"\nwarm page cache, batch {args.batch_size}, {args.batches} batches per run, {args.repeat} runs "
          f"each (load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)", file=sys.stderr)
    for r in range(args.repeat):
        for name, mode in configs:
            factory, patch = LOADERS[name]
            kind, k = mode.split("=")
            with Patch(patch):
                run = run_loader if kind == "workers" else run_threaded
                res = run(factory(index), int(k), args.batches, args.batch_size, seed=r)
            res["loadavg"] = os.getloadavg()[0]
            runs[(name, mode)].append(res)
            print(f"  run {r}: {name:20s} {mode:10s} {res['clips_per_s']:6.1f} clips/s, "
                  f"{res['cpu_ms_per_clip']:5.1f} CPU ms/clip (load {res['loadavg']:.1f})", file=sys.stderr)
    table = {}
    for (name, mode), rs in runs.items():
        table.setdefault(name, {})[mode] = {
            "clips_per_s_median": statistics.median(x["clips_per_s"] for x in rs),
            "cpu_ms_per_clip_median": statistics.median(x["cpu_ms_per_clip"] for x in rs),
            "clips_per_s_runs": [x["clips_per_s"] for x in rs],
            "cpu_ms_per_clip_runs": [x["cpu_ms_per_clip"] for x in rs],
            "after_first_batch_clips_per_s_median": statistics.median(x["after_first_clips_per_s"] for x in rs),
            "first_batch_s_median": statistics.median(x["first_batch_s"] for x in rs),
            "loadavg": [x["loadavg"] for x in rs]}
    result["throughput_warm"] = table
    modes = list(dict.fromkeys(m for _, m in sorted(configs, key=lambda c: (c[1].startswith("threads"), c[1]))))
    print(f"\nWarm cache: clips/s wall (CPU ms per clip), medians of {args.repeat} runs; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':20s}" + "".join(f"{m:>18s}" for m in modes))
    for name, row in table.items():
        print(f"{name:20s}" + "".join(f"{row[m]['clips_per_s_median']:10.1f} ({row[m]['cpu_ms_per_clip_median']:4.1f})"
                                      if m in row else f"{'':18s}" for m in modes))
    for other in [x for x in table if x != "rawframes"]:
        ratio = {m: table[other][m]["clips_per_s_median"] / table["rawframes"][m]["clips_per_s_median"]
                 for m in table[other] if m in table.get("rawframes", {})}
        cpu = {m: table["rawframes"][m]["cpu_ms_per_clip_median"] / table[other][m]["cpu_ms_per_clip_median"]
               for m in table[other] if m in table.get("rawframes", {})}
        result.setdefault("over_rawframes", {})[other] = {"clips_per_s": ratio, "cpu_per_clip": cpu}
        print(f"{other} / rawframes: " + ", ".join(f"{m}: {r:.2f}x clips/s, {cpu[m]:.2f}x less CPU"
                                                   for m, r in ratio.items()))

    # collation + worker IPC ceiling: a dataset that does no loading
    ref = LOADERS["shards"][0](index)[0]
    ipc = {}
    for w in args.workers:
        rs = [run_loader(Precomputed(ref, args.videos), w, args.batches, args.batch_size, r) for r in range(args.repeat)]
        ipc[f"workers={w}"] = {"clips_per_s": statistics.median(x["clips_per_s"] for x in rs),
                       "cpu_ms_per_clip": statistics.median(x["cpu_ms_per_clip"] for x in rs)}
    if 0 in args.workers and torch.get_num_threads() != default_threads:  # collation with torch's default threads
        torch.set_num_threads(default_threads)
        rs = [run_loader(Precomputed(ref, args.videos), 0, args.batches, args.batch_size, r) for r in range(args.repeat)]
        torch.set_num_threads(args.torch_threads)
        ipc[f"workers=0, {default_threads} torch threads"] = {
            "clips_per_s": statistics.median(x["clips_per_s"] for x in rs),
            "cpu_ms_per_clip": statistics.median(x["cpu_ms_per_clip"] for x in rs)}
    for t in args.threads:
        rs = [run_threaded(Precomputed(ref, args.videos), t, args.batches, args.batch_size, r) for r in range(args.repeat)]
        ipc[f"threads={t}"] = {"clips_per_s": statistics.median(x["clips_per_s"] for x in rs),
                               "cpu_ms_per_clip": statistics.median(x["cpu_ms_per_clip"] for x in rs)}
    result["no_loading"] = ipc
    print("no loading (clone of one item + collation + worker IPC): "
          + ", ".join(f"{w}: {v['clips_per_s']:.0f} clips/s ({v['cpu_ms_per_clip']:.2f} CPU ms/clip)"
                      for w, v in ipc.items()))

    if args.cold:
        result["throughput_cold"] = cold_runs(index, files, args)

    if args.profile_clips:
        prof = profile(index, args.profile_clips, args.profile_passes, args.batch_size)
        result["profile"] = prof
        print(f"\nOne process, no DataLoader, warm: CPU ms per clip (median of {args.profile_passes} passes "
              f"of {args.profile_clips} clips)")
        print(f"  {'':34s} {'median':>7s} {'min':>7s}")
        for k, v in prof["ms_per_clip"].items():
            print(f"  {k:34s} {v:7.2f} {prof['ms_per_clip_min'][k]:7.2f}")
        for name, bd in prof["breakdown_ms_per_clip"].items():
            print(f"  breakdown {name} (sum {sum(bd.values()):.2f}):\n    "
                  + ", ".join(f"{k} {v:.2f}" for k, v in bd.items()))
        print("  per call (CPU ms):\n" + "".join(f"    {k}: {v:.3f}\n" for k, v in prof["per_call_ms"].items()), end="")
        print(f"  default_collate: {prof['collate_ms_per_clip']:.3f} ms/clip")
        print("  checks:\n" + "".join(f"    {k}: {v}\n" for k, v in prof["checks"].items()), end="")
        e2e = prof["ms_per_clip"]
        loaders = {k: e2e[k] for k in ("shards", "shards-nocache", "shards-fast", "shards-fast-nocache", "rawframes",
                                       "rawframes-fast", "shards flow only", "shards-fast flow only",
                                       "rawframes flow only")}
        result["gpu"] = g = gpu_estimate(loaders)
        print(f"\nGPU: {g['assumptions']}")
        for k, v in g["loader_cores_needed"].items():
            print(f"  {k:22s} {v['clips_per_s_per_core']:6.1f} clips/s per core -> {v['cores_needed']:5.1f} cores "
                  f"for {v['gpu_clips_per_s']:.0f} clips/s ({v['cores_needed_at_40pct_peak']:.0f} at 40% of peak)")

    result["situation_end"] = load_situation()
    result["elapsed_s"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=float))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
