import csv
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REFERENCE_PKL = REPO.parent / "shared" / "reference" / "mnist1d_data.pkl"
# How the smoke_run fixture runs `all`. A run whose numbers are compared with it must use the same
# --cores: jobs take their thread count from it, and float32 results depend on the thread count.
SMOKE_ALL = ("--cores", "2", "--config", "preset=smoke")
# Where the smoke preset writes (each preset has its own folder; the paper preset's is results/).
SMOKE = "results/smoke"
PIPELINE_TESTS = Path(__file__).resolve().parent / "pipeline"


def resolved_config(preset="paper"):
    """config.yaml with a preset applied, as the workflow resolves it."""
    import yaml

    from mnist1d.pipeline.config import resolve
    config = yaml.safe_load((REPO / "config.yaml").read_text()) | {"preset": preset}
    return resolve(config, {}, REPO / "workflow" / "presets")


def pytest_collection_modifyitems(config, items):
    """Every test under tests/pipeline/ runs Snakemake: marked `pipeline`, so that
    `pytest -m "not pipeline"` runs the unit tests alone."""
    for item in items:
        if PIPELINE_TESTS in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.pipeline)


# Snakemake imports every installed executor plugin at start-up, and the SLURM plugin then runs
# `scontrol show config` (10 s time-out). Where SLURM's client is installed but no controller runs
# (this machine and CI, outside tests/pipeline/test_slurm.py's cluster) that costs 9 s per
# invocation. Runs that do not use SLURM see a `scontrol` that fails at once instead.
NO_SLURM_BIN = Path(tempfile.gettempdir()) / "mnist1d-tests-no-slurm"


def no_slurm_path():
    NO_SLURM_BIN.mkdir(exist_ok=True)
    shim = NO_SLURM_BIN / "scontrol"
    if not shim.exists():
        shim.write_text("#!/bin/sh\nexit 1\n")
        shim.chmod(0o755)
    return f"{NO_SLURM_BIN}{os.pathsep}{os.environ.get('PATH', '')}"


def snakemake_command(workdir, *args):
    """(command, environment) that run this repository's workflow with its results in `workdir`."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    if not any("slurm" in str(a) for a in args):
        env["PATH"] = no_slurm_path()
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
           "--directory", str(workdir), *args]
    return cmd, env


def run_snakemake(workdir, *args, timeout=900, check=True):
    """Run this repository's workflow with its results in `workdir` (targets before --config)."""
    cmd, env = snakemake_command(workdir, *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-6000:]}")
    return proc


def dag_outputs(workdir):
    """Every output file of every job that `all` needs, from `snakemake --summary`."""
    proc = run_snakemake(workdir, "all", "--summary", "--config", "preset=smoke")
    rows = csv.DictReader(io.StringIO(proc.stdout), delimiter="\t")
    return [row["output_file"] for row in rows if row.get("output_file")]


@pytest.fixture
def one_thread():
    """One torch thread for the test (float32 trajectories depend on the thread count)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One smoke-preset `snakemake --cores 2 all`, shared by the tests that read its outputs."""
    workdir = tmp_path_factory.mktemp("smoke")
    run_snakemake(workdir, "all", *SMOKE_ALL)
    return workdir
