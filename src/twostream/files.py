"""Atomic file writing: write to a temporary name in the same folder, then rename."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line imports this module: keep it light
    import pandas as pd


# Errors that mean "this folder cannot take the file" rather than a bug: disk full, quota, read-only, permission.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG})


class WriteError(OSError):
    """A file that cannot be written (disk full, read-only folder, ...); ``strerror`` names file, folder and reason."""


def write_error(e: OSError, path: Path) -> WriteError:
    """The WriteError of ``e`` (errno in WRITE_ERRNOS) met while writing ``path``: the one line naming it."""
    return WriteError(e.errno, f"cannot write {path.name} in folder {path.parent}: {e.strerror}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success, remove it on error.

    A write refused by the file system becomes a WriteError naming the file and its folder.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        if isinstance(e, WriteError) or e.errno not in WRITE_ERRNOS:
            raise
        raise write_error(e, path) from e
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table as CSV atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
