"""benchmarks/gpu_placement.py without a GPU: the smoke preset's jobs, the CPU against itself
(--devices cpu cpu), the table, the decisions and the jobs.yaml it writes."""
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import load_script

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_placement.py"


@pytest.fixture(scope="module")
def placement():
    return load_script(SCRIPT, "gpu_placement")


def run(*args):
    done = subprocess.run([sys.executable, str(SCRIPT), "--preset", "smoke",
                           "--devices", "cpu", "cpu", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def table_rows(stdout):
    """{topic: the table's fields} of the printed table."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("topic "))
    rows = {}
    for line in lines[start + 2:]:
        if not line or line.startswith(("(", "gpu_placement", "caveat")):
            break
        rows[line.split()[0]] = line.split()
    return rows


def test_decision_rule(placement):
    """GPU when the candidate's time < margin x the reference's; a stopped run's lower bound
    decides only where it settles the inequality."""
    decide = placement.decide
    assert decide((10.0, True), (7.0, True), 0.8) == "GPU"
    assert decide((10.0, True), (8.5, True), 0.8) == "CPU"
    assert decide((10.0, True), (20.0, False), 0.8) == "CPU"    # the GPU run took > 20 s
    assert decide((10.0, True), (5.0, False), 0.8) == "?"       # > 5 s: could be either
    assert decide((12.5, False), (10.0, True), 0.8) == "GPU"    # the CPU stopped at 10 / 0.8
    assert decide((11.0, False), (10.0, True), 0.8) == "?"
    assert decide((math.nan, False), (10.0, True), 0.8) == "?"
    assert placement.speedup_text((12.5, False), (10.0, True)) == ">1.25"


def test_cpu_wins_and_write(tmp_path):
    """--margin 0.01: the stand-in GPU (a second CPU run) never wins; --write keeps the base's
    GPU settings and sends both topics to the cores, saying it is no GPU measurement."""
    out, written = tmp_path / "out", tmp_path / "jobs.yaml"
    stdout = run("--topics", "lottery", "sweeps", "--margin", "0.01", "--out", str(out),
                 "--write", str(written))
    rows = table_rows(stdout)
    assert set(rows) == {"lottery", "sweeps"}
    for topic, fields in rows.items():
        assert fields[-1] == "CPU", stdout
        assert float(fields[-4]) > 0 and float(fields[-3]) > 0   # both runs finished: seconds
    assert rows["lottery"][1].startswith("magnitude_42_000-")     # the chain's first segment
    assert "GPU -; CPU lottery sweeps" in stdout
    text = written.read_text()
    assert "NOT A GPU MEASUREMENT" in text
    profile = yaml.safe_load((REPO / "profiles" / "gpu" / "jobs.yaml").read_text())["jobs"]
    jobs = yaml.safe_load(text)["jobs"]
    assert jobs == {**profile, "topics": {"lottery": {"gpu": False}, "sweeps": {"gpu": False}}}
    assert (out / "gpu_placement.csv").exists()
    runs = (out / "gpu_placement_runs.csv").read_text().splitlines()
    assert len(runs) == 1 + 4 and all(",done," in line for line in runs[1:])


def test_gpu_wins_and_stops_the_cpu_run(tmp_path):
    """--margin 100: the candidate always wins, the reference run is stopped once that is
    certain, and --write drops the base's `gpu: false` of the topic, keeping its other keys."""
    base, written = tmp_path / "base.yaml", tmp_path / "jobs.yaml"
    base.write_text("jobs: {gpus: 2, gpu_slots: 3, topics: {lottery: {gpu: false, threads: 2},"
                    " ssl: {gpu: false}}}\n")
    stdout = run("--topics", "lottery", "--margin", "100", "--base", str(base),
                 "--write", str(written))
    fields = table_rows(stdout)["lottery"]
    assert fields[-1] == "GPU"
    assert fields[-4].startswith(">")          # the reference: stopped at the decision
    assert "stopped once the decision was made" in stdout
    jobs = yaml.safe_load(written.read_text())["jobs"]
    # lottery measured: on the GPU, its threads kept; ssl not measured: the base's entry stays
    assert jobs == {"gpus": 2, "gpu_slots": 3,
                    "topics": {"lottery": {"threads": 2}, "ssl": {"gpu": False}}}
