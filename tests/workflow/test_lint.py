"""The workflow passes Snakemake's linter, is formatted with snakefmt, and quotes every path on a command line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_snakemake_lint_is_clean() -> None:
    out = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Lints for" not in out.stdout + out.stderr, out.stdout + out.stderr


def test_rules_are_formatted_with_snakefmt() -> None:
    files = ["Snakefile", *sorted(str(p.relative_to(REPO)) for p in (REPO / "workflow" / "rules").glob("*.smk"))]
    out = subprocess.run([sys.executable, "-m", "snakefmt", "--check", *files], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode == 0, f"run `snakefmt Snakefile workflow/rules` to format:\n{out.stderr}"


def test_every_path_a_rule_puts_on_a_command_line_is_quoted() -> None:
    """Inputs, outputs, logs and wildcards reach the shell through Snakemake's ``:q`` (shlex.quote): a root or
    dataset named ``Bob's "videos" $(touch pwned)`` is a word, not a command. Params holding paths quote
    themselves (common.smk: ``ingest_args``, ``fusion_baselines_args``)."""
    unquoted = [
        f"{path.name}:{text[:m.start()].count(chr(10)) + 1}: {m.group()}"
        for path in (REPO / "workflow" / "rules").glob("*.smk")
        for text in [path.read_text()]
        for m in re.finditer(r"(?<!\{)\{(input|output|log|wildcards)\b[^{}]*\}(?!\})", text)
        if not m.group().endswith(":q}")
    ]
    assert not unquoted, unquoted
