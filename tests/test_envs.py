"""The conda environment lists exactly the package's dependencies."""

from __future__ import annotations

import tomllib

import yaml


def test_conda_env_matches_pyproject(repo) -> None:
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((repo / "envs/twostream.yaml").read_text())["dependencies"]
    pip = next(d["pip"] for d in env if isinstance(d, dict))
    assert sorted(pip) == sorted(project)
