"""The workflow passes Snakemake's linter and is formatted with snakefmt."""

from __future__ import annotations

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
