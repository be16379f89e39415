"""Bundling on SLURM: how many sbatch jobs a run submits and how long it takes, with the fan-out
rules' jobs bundled (profiles/slurm's group-components) and one SLURM job per Snakemake job.

    python benchmarks/speed_slurm.py                 # on the test cluster (root; starts it)
    python benchmarks/speed_slurm.py --plan-only     # just count submissions, any machine

Part 1 (dry run, no cluster needed): for the paper protocol and the smoke preset, Snakemake jobs
against SLURM submissions, bundled and not. Part 2: the smoke preset's `all` on the single-node
test cluster (tests/slurm/start-cluster.sh), bundled and not, interleaved: wall time, number of
sbatch jobs and their summed run time as SLURM measured it.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROFILE = REPO / "profiles" / "slurm"
CLUSTER = REPO / "tests" / "slurm" / "start-cluster.sh"


def snakemake(workdir, *args, timeout=900):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(workdir), "all", "--profile", str(PROFILE), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def bundle_args(bundled):
    """The profile's group-components, or every group in pieces of one job."""
    profile = (PROFILE / "config.yaml").read_text()
    groups = re.findall(r"^\s*-\s*(\w+_bundle)=\d+", profile, flags=re.M)
    return [] if bundled else ["--group-components", *(f"{g}=1" for g in groups)]


def plan(preset, bundled):
    """(Snakemake jobs, SLURM submissions) of `all` from scratch, from a dry run."""
    with tempfile.TemporaryDirectory() as workdir:
        proc = snakemake(workdir, "-n", "--cores", "4", *bundle_args(bundled),
                         "--config", f"preset={preset}")
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(out[-3000:])
    # top-level entries of the dry run: a group job or a rule job (not the local target `all`)
    groups = len(re.findall(r"^\[[^\]]+\] Group job ", out, flags=re.M))
    singles = [r for r in re.findall(r"^\[[^\]]+\]\n(?:local)?rule (\w+):", out, flags=re.M)
               if r != "all"]
    total = re.search(r"^total\s+(\d+)", out, flags=re.M)
    jobs = int(total.group(1)) - 1 if total else 0          # minus `all`
    return jobs, groups + len(singles)


def run_on_cluster(bundled):
    cores = str(min(4, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        proc = snakemake(workdir, "--cores", cores, "--slurm-status-command", "squeue",
                         "--slurm-init-seconds-before-status-checks", "2", *bundle_args(bundled),
                         "--config", "preset=smoke")
        wall = time.perf_counter() - start
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(out[-3000:])
    ids = re.findall(r"submitted with SLURM jobid (\d+)", out)
    squeue = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i %M",
                             "--jobs", ",".join(ids)], capture_output=True, text=True).stdout
    seconds = 0
    for line in squeue.splitlines():
        parts = [int(x) for x in re.split("[:-]", line.split()[1])]
        seconds += sum(v * m for v, m in zip(reversed(parts), (1, 60, 3600, 86400)))
    return wall, len(ids), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plan-only", action="store_true")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    print("dry run: Snakemake jobs -> SLURM submissions (all, from scratch)")
    for preset in ("paper", "smoke"):
        for bundled in (True, False):
            jobs, submissions = plan(preset, bundled)
            print(f"  {preset:6s} {'bundled' if bundled else 'one job each':13s} "
                  f"{jobs:4d} jobs -> {submissions:4d} sbatch submissions")
    if args.plan_only:
        return
    if subprocess.run([str(CLUSTER), "status"]).returncode != 0:
        subprocess.run([str(CLUSTER), "start"], check=True, timeout=180)
    print("smoke `all` on the single-node test cluster (interleaved):")
    results = {True: [], False: []}
    for _ in range(args.repeats):
        for bundled in (True, False):
            results[bundled].append(run_on_cluster(bundled))
    for bundled, runs in results.items():
        for wall, n, seconds in runs:
            print(f"  {'bundled' if bundled else 'one job each':13s} wall {wall:6.1f} s, "
                  f"{n:3d} sbatch jobs, SLURM job time {seconds:5d} s")


if __name__ == "__main__":
    main()
