#!/usr/bin/env bash
# The tiny end-to-end workflow through a real one-node SLURM cluster on this machine, with
# profiles/slurm, compared with a local run of the same config.
#
#   bash tests/slurm/run.sh
#
# Needs root and apt-get (Debian/Ubuntu; installs slurm-wlm and munge when missing), and
# snakemake with snakemake-executor-plugin-slurm on PATH (pip install -e '.[cluster]').
# About 7.5 minutes on 2 cores. The daemons it starts are stopped on exit, also on failure.
# TWOSTREAM_SLURM_WORK=DIR: work there and keep it (default: a fresh folder, removed on success).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/slurm/cluster.sh
source "$REPO/tests/slurm/cluster.sh"

if [ "$(id -u)" != 0 ]; then
    echo "tests/slurm/run.sh: needs root (starts munged and slurmd)" >&2
    exit 2
fi
if ! python -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
    echo "tests/slurm/run.sh: snakemake-executor-plugin-slurm missing (pip install -e '.[cluster]')" >&2
    exit 2
fi

WORK=${TWOSTREAM_SLURM_WORK:-$(mktemp -d /tmp/twostream-slurm.XXXXXX)}
mkdir -p "$WORK"
chmod 755 "$WORK"               # munged runs as the munge user and needs to reach cluster/munge/
WORK=$(cd "$WORK" && pwd)
CLUSTER=$WORK/cluster

cleanup() {
    local rc=$?
    slurm_stop "$CLUSTER"
    if [ "$rc" = 0 ] && [ -z "${TWOSTREAM_SLURM_WORK:-}" ]; then
        rm -rf "$WORK"
    else
        echo "work folder kept: $WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { python -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

t=$(now)
slurm_install
T_INSTALL=$(since "$t")
echo "install: ${T_INSTALL} s ($(slurmctld -V))"

t=$(now)
slurm_start "$CLUSTER"
T_START=$(since "$t")
echo "cluster start: ${T_START} s"
sinfo -h -N -o "  node %N: %t, %c CPUs, %m MB, %G, partition %P"

# The same workflow twice: locally (the end-to-end test's command) and through SLURM.
SNAKE=(snakemake --snakefile "$REPO/Snakefile" --configfile "$REPO/tests/workflow/tiny.yaml")

mkdir -p "$WORK/local" "$WORK/slurm"
t=$(now)
(cd "$WORK/local" && "${SNAKE[@]}" --directory "$WORK/local" --cores 2) >"$WORK/local.log" 2>&1 \
    || { tail -n 40 "$WORK/local.log"; exit 1; }
T_LOCAL=$(since "$t")
echo "local run: ${T_LOCAL} s"

# The SLURM run's profile extends profiles/slurm the way docs/cluster.md shows for a site
# profile: job sizes scaled to this 2-CPU node and the local run's threads (threads change
# floating-point results), squeue for job status (no accounting daemon), short status checks,
# the plugin's job logs kept for the checks.
mkdir -p "$WORK/profile"
cat >"$WORK/profile/profile.yaml" <<EOF
__use_yte__: true
__definitions__:
  - |
    import yaml
    profile = yaml.safe_load(open("$REPO/profiles/slurm/profile.yaml"))
    profile["set-threads"] = {rule: min(n, 2) for rule, n in profile["set-threads"].items()}
    profile["set-threads"]["extract"] = 1
    profile["max-threads"] = 2
    profile["default-resources"]["mem_mb"] = 2000
    for resources in profile["set-resources"].values():
        resources["mem_mb"] = min(resources.get("mem_mb", 2000), 2000)
    profile.update({
        "slurm-status-command": "squeue",
        "slurm-init-seconds-before-status-checks": 2,
        "slurm-keep-successful-logs": True,
        "latency-wait": 5,
    })
?for key, value in profile.items():
  ?key: ?value
EOF

t=$(now)
(cd "$WORK/slurm" && "${SNAKE[@]}" --directory "$WORK/slurm" --workflow-profile "$WORK/profile") \
    >"$WORK/slurm.log" 2>&1 || { tail -n 60 "$WORK/slurm.log"; exit 1; }
T_SLURM=$(since "$t")
echo "SLURM run: ${T_SLURM} s (local: ${T_LOCAL} s)"
grep -E "^Using .*profile|submitted with SLURM jobid" "$WORK/slurm.log" | sed -E 's/ \(log: .*//; s/^/  /'

python "$REPO/tests/slurm/check.py" "$WORK" "$WORK/profile/profile.yaml"
echo "times: install ${T_INSTALL} s, cluster start ${T_START} s, local run ${T_LOCAL} s, SLURM run ${T_SLURM} s"
