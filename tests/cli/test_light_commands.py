"""Commands that only read and write tables import no torch: each workflow job pays a Python start-up, and
importing torch is 3-5 s of it on a 2-core machine (the table jobs come at the end of every run)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

LIGHT = ["synthetic", "ingest", "index", "table", "cmmp-tables", "fusion-baselines"]


@pytest.mark.parametrize("command", LIGHT)
def test_a_light_command_imports_no_torch(repo, command) -> None:
    code = f"import sys; from twostream.cli import _module; _module({command!r}); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(repo / "src")))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", f"twostream {command} imports torch"
