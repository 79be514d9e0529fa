"""Decode videos in worker processes, so that a native crash of the decoder loses one video, not the run.

OpenCV's decoders can die inside C code (a segfault on a malformed file or an odd name);
that kills the process that called them. ``DecoderPool`` decodes each video in one of a
few long-lived worker processes (``forkserver``: started from a clean process, not a fork
of one with running threads) and hands back frames in submission order. A worker that
dies is replaced; its video comes back as a ``VideoError`` "decoder crashed (signal N)".
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

import cv2
import numpy as np

from twostream.data.video import VideoError, iter_frames

Decoded = tuple[np.ndarray, np.ndarray, np.ndarray]  # (T, H, W, 3) BGR frames, (T, H, W) greyscale, (T,) positions


def decode(path: str, size: tuple[int, int]) -> Decoded:
    """A video's frames at ``size``, their greyscale (what flow is computed from) and their positions in the
    video (frames that fail to decode are skipped: ``twostream.data.video.iter_frames``)."""
    read = list(iter_frames(path, size))
    if not read:
        raise VideoError("no decodable frame")
    return _window(read)


def _grey(frames: np.ndarray) -> np.ndarray:
    return np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])


def windows(decoder: Callable[[str, tuple[int, int]], Decoded], path: str, size: tuple[int, int],
            window: int) -> Iterator[Decoded]:
    """The video in consecutive windows of at most ``window`` frames, as ``decoder`` decodes it whole.

    ``decode`` itself is read frame by frame, so no more than a window is held; another decoder
    (the tests' fakes, rawframes' resizing one) is called whole and cut. VideoError if no frame decodes.
    """
    if decoder is not decode:
        decoded = decoder(path, size)
        for start in range(0, len(decoded[0]), window):
            yield tuple(a[start:start + window] for a in decoded)
        return
    part: list[tuple[int, np.ndarray]] = []
    seen = False
    for read in iter_frames(path, size):
        part.append(read)
        if len(part) == window:
            seen = True
            yield _window(part)
            part = []
    if part:
        yield _window(part)
    elif not seen:
        raise VideoError("no decodable frame")


def _window(part: list[tuple[int, np.ndarray]]) -> Decoded:
    frames = [frame for _, frame in part]
    return np.stack(frames), _grey(frames), np.array([position for position, _ in part], np.int64)


def _serve(conn: Connection, decoder: Callable[[str, tuple[int, int]], Any]) -> None:
    """A worker: decode each (path, size, window) received. Whole (window 0): send ("ok", result); in windows:
    ("part", window) for each, then ("end", None). A failure sends ("error", message)."""
    cv2.setNumThreads(1)
    while True:
        task = conn.recv()
        if task is None:
            return
        path, size, window = task
        try:
            if not window:
                conn.send(("ok", decoder(path, size)))
                continue
            for part in windows(decoder, path, size, window):
                conn.send(("part", part))
            conn.send(("end", None))
        except VideoError as e:
            conn.send(("error", str(e)))
        except Exception as e:  # any other failure of one file is that file's, reported with it
            conn.send(("error", f"cannot decode ({type(e).__name__}: {e})"))


def crash_reason(exitcode: int | None) -> str:
    """The failure reason of a worker that ended while holding a video."""
    if exitcode is not None and exitcode < 0:
        return f"decoder crashed (signal {-exitcode}, {signal.Signals(-exitcode).name})"
    return f"decoder crashed (exit status {exitcode})"


class _Worker:
    def __init__(self, ctx: mp.context.BaseContext, decoder: Callable) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, decoder), daemon=True)
        self.proc.start()
        child.close()

    def result(self) -> tuple[str, Any]:
        """("ok", decoded) or ("error", reason): waits for the answer or for the worker's death."""
        wait([self.conn, self.proc.sentinel])
        if self.conn.poll():
            try:
                return self.conn.recv()
            except EOFError:
                pass
        self.proc.join()
        return "crashed", crash_reason(self.proc.exitcode)

    def close(self) -> None:
        if self.proc.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.proc.join(timeout=5)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join()
        self.conn.close()


class DecoderPool:
    """``workers`` decoding processes; ``map`` yields (item, decoded or VideoError) in input order.

    ``decoder`` (a module-level function, so the workers can import it) takes (path, size).
    ``workers`` 0 decodes in this process (no crash isolation; for debugging). With ``window``
    > 0 a video comes as an iterator of windows of at most that many frames (``windows``),
    which the consumer reads to its end before the next item; a failure on the way raises
    VideoError from it. A worker blocks once its pipe is full, so a video is never decoded whole.
    """

    def __init__(self, workers: int, decoder: Callable[[str, tuple[int, int]], Any] = decode,
                 window: int = 0) -> None:
        self.workers, self.decoder, self.window = workers, decoder, window
        self._ctx = mp.get_context("forkserver") if workers else None
        self._idle: list[_Worker] = []

    def map(self, items: Iterable[Any], task: Callable[[Any], tuple[str, tuple[int, int]]]
            ) -> Iterator[tuple[Any, Any]]:
        """Decode ``task(item)`` = (path, size) for each item, up to ``workers`` at once, ahead of the consumer."""
        if not self.workers:
            for item in items:
                try:
                    yield item, (windows(self.decoder, *task(item), self.window) if self.window
                                 else self.decoder(*task(item)))
                except VideoError as e:
                    yield item, e
            return
        pending: deque[tuple[Any, _Worker]] = deque()
        try:
            for item in items:
                pending.append((item, self._send(task(item))))
                if len(pending) >= self.workers:
                    yield self._collect(*pending.popleft())
            while pending:
                yield self._collect(*pending.popleft())
        finally:  # a consumer that stops early: the workers still busy are not reused
            for _, worker in pending:
                worker.close()

    def _send(self, task: tuple[str, tuple[int, int]]) -> _Worker:
        worker = self._idle.pop() if self._idle else _Worker(self._ctx, self.decoder)
        worker.conn.send((os.fspath(task[0]), tuple(task[1]), self.window))
        return worker

    def _collect(self, item: Any, worker: _Worker) -> tuple[Any, Any]:
        if self.window:
            return item, self._stream(worker)
        status, value = worker.result()
        if status == "crashed":
            worker.close()  # a new worker takes its place on the next video
            return item, VideoError(value)
        self._idle.append(worker)
        return item, (value if status == "ok" else VideoError(value))

    def _stream(self, worker: _Worker) -> Iterator[Decoded]:
        """A video's windows as its worker sends them; VideoError on a failure (the worker replaced if it died)."""
        while True:
            status, value = worker.result()
            if status == "part":
                yield value
                continue
            if status == "crashed":
                worker.close()
            else:
                self._idle.append(worker)
            if status != "end":
                raise VideoError(value)
            return

    def close(self) -> None:
        for worker in self._idle:
            worker.close()
        self._idle.clear()

    def __enter__(self) -> DecoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
