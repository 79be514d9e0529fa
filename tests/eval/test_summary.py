"""results/summary.md: the run's tables, when and where it ran, and what reproduces bit for bit."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
from pathlib import Path

from twostream.cli import main
from twostream.eval.summary import machine, summary


def test_summary_keeps_every_table_under_a_section(tmp_path):
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text("# Table A\n\n| x |\n|---|\n| 47.90 [38.1, 57.9] |\n")
    b.write_text("# Table B\n\nnote\n")
    text = summary([a, b], datetime.datetime(2026, 12, 1, 22, 0, tzinfo=datetime.timezone.utc), "host: cpu")
    assert text.startswith("# Results summary\n\nRun finished 2026-12-01 22:00 UTC on host: cpu.")
    assert "## Table A" in text and "| 47.90 [38.1, 57.9] |" in text and text.index("## Table A") < text.index("## Table B")
    assert "Bit-identical across machines" in text


def test_cli_names_the_machine(tmp_path):
    (tmp_path / "t.md").write_text("# T\n")
    assert main(["summary", "--tables", str(tmp_path / "t.md"), "--out", str(tmp_path / "s.md")]) == 0
    assert machine() in (tmp_path / "s.md").read_text()


def test_a_refused_write_is_one_line_and_the_previous_summary_is_kept(tmp_path):
    """A file size limit (EFBIG, as a full disk's ENOSPC; no root needed) while the summary is written: one line
    naming the file and folder, exit 1, the previous summary intact, no temporary file left."""
    (tmp_path / "t.md").write_text("# T\n\n" + "| x |\n" * 200)
    out = tmp_path / "s.md"
    out.write_text("previous\n")

    def limit() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (500, resource.RLIM_INFINITY))

    src = Path(__file__).resolve().parents[2] / "src"
    proc = subprocess.run([sys.executable, "-m", "twostream", "summary", "--tables", str(tmp_path / "t.md"), "--out",
                           str(out)], capture_output=True, text=True, preexec_fn=limit,
                          env=dict(os.environ, PYTHONPATH=str(src)))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"twostream summary: error: cannot write s.md in folder {tmp_path}: File too large"
    assert out.read_text() == "previous\n" and sorted(p.name for p in tmp_path.iterdir()) == ["s.md", "t.md"]
