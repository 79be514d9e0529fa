"""results/summary.md: the run's tables, when and where it ran, and what reproduces bit for bit."""

from __future__ import annotations

import datetime

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
