"""Resilience: the smoke preset's `snakemake all`, killed with SIGKILL (Snakemake and every job it
runs) in the middle and recovered as README says (`snakemake --unlock`, then the same command with
`--rerun-incomplete`), ends with the results of an uninterrupted run (the `smoke_run` fixture).

It is killed twice: while the first of the two checkpointed jobs (the metalearning activation
job's outer loop, the lottery search's rounds) is half-way, then, in the rerun, while the other one
is. Both must resume from their checkpoints, and every table under results/ must then equal the
uninterrupted run's, with no temporary or checkpoint file left behind.
"""
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from helpers import REPO, SMOKE, SMOKE_ALL, run_snakemake, snakemake_command
from mnist1d.io import atomic_path, write_csv
from test_slurm import differences

SKIP_DIRS = (f"{SMOKE}/logs", f"{SMOKE}/timing")   # times and job logs (figures: not TABLES)
TABLES = (".csv", ".md", ".npz")
PHASE_TIMEOUT = 900          # seconds for one run up to its kill point (the smoke `all`: ~3 min)
POLL = 0.01                  # seconds between looks at the checkpoint files


# A job that checkpoints, by its rule's name (also its script's name): (checkpoint file that exists only once a step is done, an output the
# job writes after its last step, its log, the line its log shows when it resumed).
CHECKPOINTED = {
    "metalearn_afunc": (f"{SMOKE}/metalearn/checkpoints/afunc.pt", f"{SMOKE}/metalearn/afunc_steps.csv",
                        f"{SMOKE}/logs/metalearn/afunc.log", "resuming from"),
    # the lottery ticket's chain of trial 42 up to the analysed round (smoke: rounds 0..2)
    "lottery_search_segment": (f"{SMOKE}/lottery/checkpoint/magnitude_42_000-002/state.json",
                               f"{SMOKE}/lottery/search/magnitude_42_000-002.csv",
                               f"{SMOKE}/logs/lottery/search_magnitude_42_000-002.log",
                               "resuming after"),
}


def result_files(workdir):
    """Every table/array under results/ (relative paths), logs, timings and figures left out."""
    root = Path(workdir)
    return sorted(str(p.relative_to(root)) for p in (root / "results").rglob("*")
                  if p.is_file() and p.suffix in TABLES
                  and not str(p.relative_to(root)).startswith(SKIP_DIRS))


def leftovers(workdir):
    """Temporary files of atomic writes (mnist1d.io.atomic_path) and checkpoints under results/."""
    root = Path(workdir) / "results"
    temps = [p for p in root.rglob("*") if p.is_file() and p.name.endswith(".tmp")]
    checkpoints = [Path(workdir) / c for c, *_ in CHECKPOINTED.values()]
    return [str(p) for p in temps + [c for c in checkpoints if c.exists()]]


def start_all(workdir, log, *extra):
    """`snakemake all` as in smoke_run, in its own process group (so it and its jobs can be killed)."""
    cmd, env = snakemake_command(workdir, "all", *extra, *SMOKE_ALL)
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def mid_way(workdir, jobs):
    """The jobs of `jobs` that have checkpointed a step and not yet written their output."""
    return [job for job in jobs if (workdir / CHECKPOINTED[job][0]).exists()
            and not (workdir / CHECKPOINTED[job][1]).exists()]


def wait_mid_job(proc, workdir, jobs, log_path):
    """Wait until one of `jobs` is running half-way (mid_way); return the jobs that are."""
    deadline = time.monotonic() + PHASE_TIMEOUT
    while time.monotonic() < deadline:
        found = mid_way(workdir, jobs)
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"snakemake ended (rc {proc.returncode}) before {jobs} could be interrupted "
                        f"half-way:\n{Path(log_path).read_text()[-4000:]}")
        time.sleep(POLL)
    kill_group(proc)
    pytest.fail(f"none of {jobs} got half-way within {PHASE_TIMEOUT} s")


def group_alive(pgid):
    """Processes of process group `pgid` still running (zombies are dead)."""
    alive = []
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(p.pid) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(p.pid)
        except (ProcessLookupError, psutil.Error):
            pass
    return alive


def kill_group(proc):
    """SIGKILL Snakemake and every job it started (one process group), as a crash would."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not group_alive(proc.pid), "a job survived SIGKILL of its process group"


def running_scripts(pgid):
    """Names of the workflow scripts (workflow/scripts/NAME.py) running in process group `pgid`."""
    names = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if os.getpgid(p.pid) == pgid:
                names += [a.rsplit(".", 2)[-2] for a in p.info["cmdline"] or []
                          if "/.snakemake/scripts/" in a]
        except (ProcessLookupError, psutil.Error):
            pass
    return names


@pytest.fixture(scope="module")
def recovered(smoke_run, tmp_path_factory):
    """The smoke `all` killed half-way until every checkpointed job was killed mid-way once (two
    kills, unless both ran side by side at the first), recovered after each kill as README says.
    Returns (workdir, one record per kill)."""
    workdir = tmp_path_factory.mktemp("resilience")
    reference = set(result_files(smoke_run))
    todo, kills, recover = list(CHECKPOINTED), [], ()
    while todo:
        log_path = workdir / f"run{len(kills)}.log"
        with open(log_path, "w") as log:
            proc = start_all(workdir, log, *recover)
            wait_mid_job(proc, workdir, todo, log_path)
            scripts = running_scripts(proc.pid)
            jobs = mid_way(workdir, todo)
            made = set(result_files(workdir))
            kill_group(proc)
        kills.append({"jobs": jobs, "running": scripts, "made": len(made & reference)})
        todo = [job for job in todo if job not in jobs]
        # README's recipe after a crash: remove the stale lock, then rerun with --rerun-incomplete
        run_snakemake(workdir, "--unlock", *SMOKE_ALL)
        recover = ("--rerun-incomplete",)
    run_snakemake(workdir, "all", *recover, *SMOKE_ALL)
    return workdir, kills


def test_the_kills_hit_the_run_half_way(recovered, smoke_run):
    workdir, kills = recovered
    assert sorted(job for kill in kills for job in kill["jobs"]) == sorted(CHECKPOINTED)
    n = len(result_files(smoke_run))
    for kill in kills:
        assert set(kill["jobs"]) <= set(kill["running"]), kill    # a checkpointed job's script
        assert 0 < kill["made"] < n, f"not half-way: {kill['made']} of {n} results made ({kill})"


def test_killed_checkpointed_jobs_resumed(recovered):
    workdir, _ = recovered
    for job, (_, _, log, resumed) in CHECKPOINTED.items():
        assert resumed in (workdir / log).read_text(), f"{job} did not resume: see {log}"


def test_recovered_results_equal_an_uninterrupted_run(recovered, smoke_run):
    workdir, _ = recovered
    files = result_files(smoke_run)
    assert result_files(workdir) == files
    assert any(f.endswith("lottery/search_history.csv") for f in files)
    bad = {}
    for name in files:
        a, b = smoke_run / name, workdir / name
        if a.suffix == ".md":
            diff = "" if a.read_text() == b.read_text() else "text differs"
        else:
            diff = differences(a, b)      # exact, time-valued columns (seconds) left out
        if diff:
            bad[name] = diff
    assert not bad, f"results differ from the uninterrupted run: {bad}"


def test_no_temporary_or_checkpoint_file_left(recovered):
    workdir, _ = recovered
    assert not leftovers(workdir)


def test_nothing_left_to_do_after_recovery(recovered):
    workdir, _ = recovered
    proc = run_snakemake(workdir, "all", "-n", *SMOKE_ALL)
    assert "Nothing to be done" in proc.stdout + proc.stderr


# --- atomic writes after a kill -------------------------------------------------------------

def test_a_write_removes_the_temporary_file_a_killed_writer_left(tmp_path):
    """A job killed while writing leaves its temporary file; the rerun's write must remove it,
    but not a temporary file that a live writer holds, nor another file's."""
    target = tmp_path / "table.csv"
    stale = tmp_path / ".table.csv.k1ll3d_0.tmp"           # its writer is gone: no lock
    stale.write_text("half a tab")
    live = tmp_path / ".table.csv.wr1t1ng0.tmp"            # being written: locked
    live.write_text("x")
    other = tmp_path / ".table.csv.bak.k1ll3d_0.tmp"       # another file's
    other.write_text("x")
    with open(live) as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        write_csv(pd.DataFrame({"a": [1, 2]}), target)
        assert live.exists()
    assert pd.read_csv(target)["a"].tolist() == [1, 2]
    assert not stale.exists() and other.exists()
    write_csv(pd.DataFrame({"a": [3]}), target)            # the lock is gone: now it is stale
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, target.name]


def test_a_killed_writer_leaves_an_unlocked_temporary_file_that_the_rerun_removes(tmp_path):
    """The real thing: a process SIGKILLed inside atomic_path, then the same write again."""
    target = tmp_path / "x.csv"
    code = ("import os, signal, sys; from mnist1d.io import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    open(tmp, 'w').write('half')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(target)], cwd=REPO)
    assert proc.returncode == -signal.SIGKILL
    left = list(tmp_path.iterdir())
    assert len(left) == 1 and left[0].name.startswith(".x.csv.") and not target.exists()
    write_csv(pd.DataFrame({"a": [1]}), target)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_a_failed_write_leaves_neither_target_nor_temporary_file(tmp_path):
    target = tmp_path / "table.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            Path(tmp).write_text("partial")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
