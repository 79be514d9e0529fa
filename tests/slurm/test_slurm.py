"""The tiny end-to-end workflow through a real one-node SLURM cluster: tests/slurm/run.sh.

Runs with TWOSTREAM_SLURM_TEST=1, where it can without harm: as root on Linux with apt-get (it
installs slurm-wlm and munge when missing, starts munged, slurmctld and slurmd, and stops them after;
about 7.5 minutes on 2 cores), never beside a real SLURM installation. Off by default: with it the
suite on CI's 2 cores came too close to CI's 45-minute limit; run it before changing a rule, the
profiles or the launcher: `TWOSTREAM_SLURM_TEST=1 pytest tests/slurm`.
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
    if os.environ.get("TWOSTREAM_SLURM_TEST") != "1":
        return "opt-in (about 7.5 min as root): TWOSTREAM_SLURM_TEST=1 pytest tests/slurm"
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
