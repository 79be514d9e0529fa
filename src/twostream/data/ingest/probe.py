"""Probe videos in worker processes that a native decoder crash cannot take down with the rest.

Each worker probes one video at a time. A worker that dies (e.g. OpenCV segfaults on a file) is
replaced, the video it held gets the reason ``decoder crashed (SIGSEGV)``, and the others go on.
Paths OpenCV cannot take (not valid UTF-8, or with ``%``, which it may read as an image-sequence
pattern) are opened through a symbolic link with a safe name (``alias``).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path

import cv2
from tqdm import tqdm

from twostream.data.video import VideoError, VideoInfo, probe

# spawn: a fresh interpreter per worker, never a fork of a parent that holds decoder threads
CONTEXT = multiprocessing.get_context("spawn")


def opencv_safe(path: str | os.PathLike) -> bool:
    """Whether OpenCV can be given this path as it is (valid UTF-8, no ``%``)."""
    raw = os.fsencode(path)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"%" not in raw


def alias(path: str | os.PathLike, folder: Path) -> Path:
    """A symbolic link in ``folder`` with a safe name (hash of the path, same extension) to ``path``."""
    raw = os.fsencode(os.path.abspath(path))
    ext = os.path.splitext(raw)[1].decode("ascii", "replace").lower()
    ext = ext if ext[1:].isalnum() else ""
    link = folder / f"{hashlib.sha256(raw).hexdigest()[:24]}{ext}"
    folder.mkdir(parents=True, exist_ok=True)
    if os.path.islink(link) and os.fsencode(os.readlink(link)) == raw:
        return link
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(raw, os.fsencode(tmp))
    os.replace(tmp, link)
    return link


def probe_reason(path: str) -> VideoInfo | str:
    """VideoInfo, or the reason the video cannot be read."""
    try:
        return probe(path)
    except (VideoError, cv2.error) as e:
        return str(e)


def _serve(conn: Connection) -> None:
    """Worker loop: probe each path received until None comes."""
    while (path := conn.recv()) is not None:
        conn.send(probe_reason(path))


class _Worker:
    def __init__(self) -> None:
        self.conn, child = CONTEXT.Pipe()
        self.process = CONTEXT.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.job: int | None = None

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def crash_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"decoder crashed ({name})"
    return f"decoder crashed (worker exited with status {exitcode})"


def probe_all(paths: Sequence[str | os.PathLike], workers: int = 1) -> list[VideoInfo | str]:
    """Probe videos in order in ``workers`` processes (at least one), with a progress bar on stderr."""
    results: list[VideoInfo | str] = [""] * len(paths)
    todo = deque(enumerate(map(os.fspath, paths)))
    pool = [_Worker() for _ in range(min(max(1, workers), len(paths)))]
    with tqdm(total=len(paths), desc="probe", unit="video", file=sys.stderr) as bar:
        try:
            while todo or any(w.job is not None for w in pool):
                for w in pool:
                    if w.job is None and todo:
                        w.job, path = todo.popleft()
                        w.conn.send(path)
                busy = [w for w in pool if w.job is not None]
                wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
                for k, w in enumerate(pool):
                    if w.job is not None and _collect(w, results):
                        bar.update()
                        if w.job == -1:  # crashed: start a fresh worker in its place
                            w.stop()
                            pool[k] = _Worker() if todo else w
                        w.job = None
        finally:
            for w in pool:
                w.stop()
    return results


def _collect(w: _Worker, results: list) -> bool:
    """Store the worker's result if it has one (or its crash); False while it is still probing."""
    if w.conn.poll():
        try:
            results[w.job] = w.conn.recv()
            return True
        except EOFError:
            pass
    elif w.process.is_alive():
        return False
    w.process.join()
    results[w.job] = crash_reason(w.process.exitcode)
    w.job = -1
    return True
