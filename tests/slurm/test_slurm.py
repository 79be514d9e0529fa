"""The tiny end-to-end workflow through a real one-node SLURM cluster: tests/slurm/run.sh.

Opt-in (TWOSTREAM_SLURM_TEST=1): it installs slurm-wlm and munge with apt-get when missing,
starts munged, slurmctld and slurmd as root, and takes about 7.5 minutes on 2 cores.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def skip_reason() -> str | None:
    if not os.environ.get("TWOSTREAM_SLURM_TEST"):
        return ("opt-in: set TWOSTREAM_SLURM_TEST=1 (installs SLURM with apt-get and starts its daemons "
                "as root; ~7.5 min)")
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux (starts munged and slurmd)"
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        return "SLURM not installed and no apt-get to install it"
    if os.path.lexists("/etc/slurm/slurm.conf"):
        return "/etc/slurm/slurm.conf exists: a real SLURM installation, not a machine for a throwaway cluster"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm not installed (pip install -e '.[cluster]')"
    return None


@pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
def test_tiny_workflow_through_slurm(repo: Path) -> None:
    """Jobs go through sbatch with the profile's resources, and the outputs equal a local run's."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    # Its own process group: on a timeout, SIGTERM reaches Snakemake (which cancels its SLURM jobs)
    # and the script, whose exit trap stops the daemons.
    proc = subprocess.Popen(["bash", str(repo / "tests/slurm/run.sh")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=1800)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
        pytest.fail("tests/slurm/run.sh took over 30 min:\n" + out[-8000:])
    print(out)
    assert proc.returncode == 0, out[-10000:]
