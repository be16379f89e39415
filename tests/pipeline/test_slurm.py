"""Scale-out: the smoke preset's `all` through profiles/slurm on a real single-node SLURM cluster
(tests/pipeline/slurm/start-cluster.sh) makes every target, every job goes through sbatch, and every numeric
output equals that of the local run (the `smoke_run` fixture)."""
import fcntl
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import REPO, SMOKE, dag_outputs, run_snakemake

CLUSTER = REPO / "tests" / "pipeline" / "slurm" / "start-cluster.sh"
PROFILE = REPO / "profiles" / "slurm"
RUN_DIR = Path("/run/mnist1d-slurm")      # the cluster script's pid files
NUMERIC = (".csv", ".tsv", ".npz", ".npy")
SKIP_DIRS = (f"{SMOKE}/timing", f"{SMOKE}/logs")      # wall-clock times and job logs differ
VOLATILE = re.compile(r"(^|_)(seconds|elapsed|wall|duration|hostname)($|_)")   # such columns too


def numeric_outputs(workdir):
    """Every numeric result file under results/, relative to `workdir` (timings/logs left out)."""
    root = Path(workdir)
    return sorted(str(p.relative_to(root)) for p in (root / "results").rglob("*")
                  if p.is_file() and p.suffix in NUMERIC
                  and not str(p.relative_to(root)).startswith(SKIP_DIRS))


def differences(a, b):
    """'' when files a and b hold the same numbers, else what differs."""
    if a.suffix == ".npz" or a.suffix == ".npy":
        left, right = np.load(a, allow_pickle=False), np.load(b, allow_pickle=False)
        if a.suffix == ".npy":
            left, right = {"": left}, {"": right}
        if sorted(left.keys()) != sorted(right.keys()):
            return f"arrays {sorted(left.keys())} vs {sorted(right.keys())}"
        bad = [k for k in left.keys() if not np.array_equal(left[k], right[k], equal_nan=left[k].dtype.kind == "f")]
        return f"arrays differ: {bad}" if bad else ""
    sep = "\t" if a.suffix == ".tsv" else ","
    left, right = pd.read_csv(a, sep=sep), pd.read_csv(b, sep=sep)
    left = left[[c for c in left.columns if not VOLATILE.search(str(c))]]
    right = right[[c for c in right.columns if not VOLATILE.search(str(c))]]
    try:
        pd.testing.assert_frame_equal(left, right, check_exact=True)
    except AssertionError as err:
        return str(err)[:500]
    return ""


@pytest.fixture(scope="module")
def slurm_cluster():
    """The test cluster: started here unless already running; stopped afterwards by the last
    test session using it, if a test session started it (a shared lock counts the users)."""
    if os.geteuid() != 0:
        pytest.skip("the SLURM test starts slurmctld/slurmd and needs root; run it as root "
                    "(CI does) after `apt-get install -y slurm-wlm munge`")
    missing = [t for t in ("slurmctld", "slurmd", "munged", "sbatch", "squeue")
               if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]
    assert not missing, f"{missing} not installed: apt-get install -y slurm-wlm munge"
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    users = open(RUN_DIR / "test-users.lock", "a")
    fcntl.flock(users, fcntl.LOCK_SH)
    try:
        if subprocess.run([str(CLUSTER), "status"], timeout=30).returncode != 0:
            proc = subprocess.run([str(CLUSTER), "start"], capture_output=True, text=True,
                                  timeout=180)
            assert proc.returncode == 0, f"cluster did not start:\n{proc.stdout}\n{proc.stderr}"
            (RUN_DIR / "started-by-test").touch()
        yield
    finally:
        try:                                   # the last user stops what a test started
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if (RUN_DIR / "started-by-test").exists():
                subprocess.run([str(CLUSTER), "stop"], timeout=60)
                (RUN_DIR / "started-by-test").unlink()
        except BlockingIOError:
            pass
        users.close()


def slurm_diagnostics(workdir, output):
    """What to show when the SLURM run fails or hangs: its output, the queue, the job logs."""
    queue = subprocess.run(["squeue", "--states=all", "--format=%i %j %T %r %C %m"],
                           capture_output=True, text=True, timeout=30).stdout
    logs = "\n".join(f"== {p}\n{p.read_text()[-3000:]}"
                     for p in (workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    return f"{output[-6000:]}\n== squeue\n{queue}\n{logs}"


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory):
    """The smoke preset's `all` through profiles/slurm; the workdir and snakemake's output."""
    workdir = tmp_path_factory.mktemp("slurm")
    node_cpus = subprocess.run(["sinfo", "--noheader", "--format=%c"], capture_output=True,
                               text=True, timeout=30).stdout.split()[0]
    cores = str(min(4, int(node_cpus)))                      # a bundle must fit on the node
    try:
        proc = run_snakemake(workdir, "all", "--profile", str(PROFILE), "--cores", cores,
                             "--slurm-status-command", "squeue",   # accounting is off: no sacct
                             "--slurm-init-seconds-before-status-checks", "2",
                             "--config", "preset=smoke", timeout=1200, check=False)
    except subprocess.TimeoutExpired as err:
        output = (err.stdout or b"") + (err.stderr or b"")
        output = output.decode(errors="replace") if isinstance(output, bytes) else output
        for run_id in re.findall(r"SLURM run ID: (\S+)", output):   # leave nothing queued
            subprocess.run(["scancel", "--name", run_id], timeout=30)
        raise AssertionError(f"the SLURM run hung past {err.timeout} s:\n"
                             + slurm_diagnostics(workdir, output)) from None
    if proc.returncode != 0:
        raise AssertionError("SLURM run failed:\n"
                             + slurm_diagnostics(workdir, proc.stdout + proc.stderr))
    return workdir, proc.stdout + proc.stderr


def test_every_job_went_through_sbatch(slurm_run):
    workdir, log = slurm_run
    slurm_ids = re.findall(r"submitted with SLURM jobid (\d+)", log)
    assert slurm_ids, "no job was submitted with sbatch"
    # every job but the target rule `all` ran inside a SLURM job: its outputs are named in the
    # log of one of the submitted SLURM jobs (kept by slurm-keep-successful-logs)
    built_in_slurm = set()
    for job_id in slurm_ids:
        logs = list((workdir / ".snakemake" / "slurm_logs").rglob(f"{job_id}.log"))
        assert len(logs) == 1, f"no SLURM log for job {job_id}"
        text = logs[0].read_text()
        assert f"SLURM_JOB_ID" in text or "slurm-jobstep" in text, logs[0]
        for line in re.findall(r"^\s*output: (.+)$", text, flags=re.M):
            built_in_slurm.update(o.strip() for o in line.split(","))
    outputs = [o for o in dag_outputs(workdir)]
    not_slurm = [o for o in outputs if o not in built_in_slurm]
    assert not not_slurm, f"made outside SLURM: {not_slurm}"
    # SLURM itself saw every job finish (MinJobAge keeps them in squeue)
    states = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i %T",
                             "--jobs", ",".join(slurm_ids)], capture_output=True, text=True,
                            timeout=30).stdout.split("\n")
    states = dict(line.split() for line in states if line.strip())
    assert all(states.get(i) == "COMPLETED" for i in slurm_ids), states


def test_every_target_exists(slurm_run):
    workdir, _ = slurm_run
    outputs = dag_outputs(workdir)
    missing = [o for o in outputs if not (workdir / o).exists() or (workdir / o).stat().st_size == 0]
    assert outputs and not missing, f"missing or empty: {missing}"


def test_slurm_numbers_equal_local_numbers(slurm_run, smoke_run):
    workdir, _ = slurm_run
    local, remote = numeric_outputs(smoke_run), numeric_outputs(workdir)
    assert local, "the local run made no numeric outputs"
    assert local == remote, f"different files: {set(local) ^ set(remote)}"
    different = {f: d for f in local if (d := differences(smoke_run / f, workdir / f))}
    assert not different, different


def test_the_comparison_sees_a_changed_number(tmp_path):
    """The equality check of local and SLURM outputs can fail (no cluster needed)."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    x = np.linspace(0, 1, 7)
    np.savez(tmp_path / "a" / "d.npz", x=x)
    np.savez(tmp_path / "b" / "d.npz", x=x + np.r_[0, 0, 0, 1e-15, 0, 0, 0])
    assert "['x']" in differences(tmp_path / "a" / "d.npz", tmp_path / "b" / "d.npz")
    pd.DataFrame({"acc": x}).to_csv(tmp_path / "a" / "r.csv", index=False)
    pd.DataFrame({"acc": x * (1 + 1e-12)}).to_csv(tmp_path / "b" / "r.csv", index=False)
    assert differences(tmp_path / "a" / "r.csv", tmp_path / "b" / "r.csv")
    assert not differences(tmp_path / "a" / "r.csv", tmp_path / "a" / "r.csv")
