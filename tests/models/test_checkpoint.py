"""Writing checkpoints when the file system refuses: one WriteError naming the file and folder, nothing lost.

``torch.save`` to a path reports a failed write as ``RuntimeError: [enforce fail at inline_container.cc]``
(no file, no cause), which the command line's one-line handler of write errors did not catch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from twostream.files import WriteError
from twostream.models.checkpoint import save_atomic

REPO = Path(__file__).resolve().parents[2]


def test_a_file_size_limit_makes_a_write_error_and_keeps_the_old_checkpoint(tmp_path) -> None:
    """RLIMIT_FSIZE (no root needed): writes past the limit fail with EFBIG, as a full disk fails with ENOSPC."""
    path = tmp_path / "models" / "rgb.pt"
    save_atomic({"w": torch.zeros(10)}, path)
    before = path.read_bytes()
    script = textwrap.dedent(f"""
        import resource, signal, sys, torch
        from twostream.files import WriteError
        from twostream.models.checkpoint import save_atomic
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, resource.RLIM_INFINITY))
        try:
            save_atomic({{"w": torch.zeros(100_000)}}, {str(path)!r})
        except WriteError as e:
            print(e.strerror)
            sys.exit(3)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO / "src")))
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.strip() == f"cannot write rgb.pt in folder {path.parent}: File too large"
    assert path.read_bytes() == before and os.listdir(path.parent) == ["rgb.pt"]  # old kept, no temporary left


def test_a_full_disk_is_a_write_error_naming_the_folder(tmp_path) -> None:
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("needs root on Linux to mount a small tmpfs")
    folder = tmp_path / "full"
    folder.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True,
                          text=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        with pytest.raises(WriteError, match=f"cannot write flow.pt in folder {folder}: No space left on device"):
            save_atomic({"w": torch.zeros(100_000)}, folder / "flow.pt")
        assert os.listdir(folder) == []
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)  # lazy: an open file cannot keep it mounted


def test_checkpoint_bytes_do_not_depend_on_the_temporary_name(tmp_path) -> None:
    """Saved through a file object, the archive folder inside is always ``archive`` (by path it was the temporary
    name, which holds the process id): the same weights give the same bytes in every run."""
    save_atomic({"w": torch.arange(5)}, tmp_path / "a.pt")
    save_atomic({"w": torch.arange(5)}, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    assert torch.equal(torch.load(tmp_path / "a.pt")["w"], torch.arange(5))
