"""What the tests share besides fixtures: the repository's paths, the test data shipped under
tests/data/, and running this repository's workflow (`import helpers`; tests/ is on pytest's
pythonpath). Hooks and fixtures are in conftest.py."""
import csv
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
PIPELINE_TESTS = TESTS / "pipeline"
# Copies of files of the reference repository https://github.com/greydanus/mnist1d (see NOTICE):
# the frozen MNIST-1D dataset, and the human quizzes' pickles human_q1.pkl ... human_q5.pkl.
REFERENCE_PKL = TESTS / "data" / "mnist1d_data.pkl"
REFERENCE_HUMAN = TESTS / "data" / "human"
# How the smoke_run fixture runs `all`. A run whose numbers are compared with it must use the same
# --cores: jobs take their thread count from it, and float32 results depend on the thread count.
SMOKE_ALL = ("--cores", "2", "--config", "preset=smoke")
# Where the smoke preset writes (each preset has its own folder; the paper preset's is results/).
SMOKE = "results/smoke"


def load_script(path, name):
    """A script of benchmarks/ (not a package) imported as module `name`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def resolved_config(preset="paper"):
    """config.yaml with a preset applied, as the workflow resolves it."""
    import yaml

    from mnist1d.pipeline.config import resolve
    config = yaml.safe_load((REPO / "config.yaml").read_text()) | {"preset": preset}
    return resolve(config, {}, REPO / "workflow" / "presets")


# Snakemake imports every installed executor plugin at start-up, and the SLURM plugin then runs
# `scontrol show config` (10 s time-out). Where SLURM's client is installed but no controller runs
# (this machine and CI, outside tests/pipeline/test_slurm.py's cluster) that costs 9 s per
# invocation. Runs that do not use SLURM see a `scontrol` that fails at once instead.
NO_SLURM_BIN = Path(tempfile.gettempdir()) / "mnist1d-tests-no-slurm"


def no_slurm_path():
    """PATH with a `scontrol` that fails at once in front."""
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
