"""Nothing finished is lost: a damaged input stops the run before any job (and before Snakemake
deletes the outputs built from it); another preset never writes over these results; every file
is readable as the umask allows."""
import os
import shutil
import stat

import numpy as np
import pytest

from helpers import SMOKE, run_snakemake


@pytest.fixture
def finished(smoke_run, tmp_path):
    """A copy of the finished smoke run (results and Snakemake's records), to spoil."""
    workdir = tmp_path / "run"
    shutil.copytree(smoke_run, workdir, symlinks=True)
    return workdir


def snapshot(workdir):
    """{path: (size, mtime)} of every file under results/."""
    root = workdir / "results"
    return {str(p.relative_to(workdir)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


def test_a_truncated_dataset_stops_the_run_and_keeps_every_result(finished):
    data = finished / SMOKE / "data" / "default.npz"
    with open(data, "r+b") as f:
        f.truncate(data.stat().st_size // 2)
    before = snapshot(finished)
    proc = run_snakemake(finished, "all", "--cores", "2", "--keep-going", "--config",
                         "preset=smoke", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{SMOKE}/data/default.npz" in out and "delete" in out, out[-3000:]
    assert snapshot(finished) == before          # not one result deleted or rewritten


def test_a_garbage_mnist_file_stops_the_run_and_keeps_the_figure(finished):
    garbage = finished / "mnist.npz"
    garbage.write_bytes(b"this is not an npz file" * 100)
    before = snapshot(finished)
    proc = run_snakemake(finished, "all", "--cores", "2", "--config", "preset=smoke",
                         f"tsne={{mnist_path: {garbage}}}", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "tsne.mnist_path" in out and str(garbage) in out, out[-3000:]
    assert snapshot(finished) == before and (finished / SMOKE / "tsne.png").exists()


def test_another_preset_writes_to_its_own_folder(smoke_run):
    listed = run_snakemake(smoke_run, "all", "--summary", "--config", "preset=quick").stdout
    outputs = [line.split("\t")[0] for line in listed.splitlines()[1:] if line.strip()]
    assert outputs and all(o.startswith("results/quick/") for o in outputs), outputs[:5]


def test_a_folder_of_another_preset_is_refused(finished):
    before = snapshot(finished)
    proc = run_snakemake(finished, "all", "--cores", "2", "--config", "preset=quick",
                         f"results_dir={SMOKE}", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{SMOKE} holds the results of preset 'smoke'" in out and "results_dir" in out, out[-2000:]
    assert snapshot(finished) == before


def test_results_are_readable_as_the_umask_allows(smoke_run):
    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask                     # 0644 under the usual umask 022
    files = [p for p in (smoke_run / "results").rglob("*") if p.is_file()]
    wrong = [f"{p}: {oct(stat.S_IMODE(p.stat().st_mode))}" for p in files
             if stat.S_IMODE(p.stat().st_mode) != expected]
    assert len(files) > 50 and not wrong, wrong[:10]


def test_one_figure_without_flags(tmp_path):
    """The design card's `snakemake results/<figure>.png`, here the smoke preset's data figure:
    no --cores needed (profiles/default), and only what the figure needs runs."""
    proc = run_snakemake(tmp_path, f"{SMOKE}/templates.png", "--config", "preset=smoke")
    out = proc.stdout + proc.stderr
    assert (tmp_path / SMOKE / "templates.png").exists() and (tmp_path / SMOKE / "templates.pdf").exists()
    assert "rule data_figures" in out and "rule dataset" in out
    made = {p.name for p in (tmp_path / SMOKE / "data").glob("*.npz")}
    assert made == {"default.npz"}, made
    assert np.load(tmp_path / SMOKE / "data" / "default.npz")["x"].shape[1] == 40


def test_the_paper_figure_targets_plan_only_what_they_need(tmp_path):
    proc = run_snakemake(tmp_path, "results/double_descent.png", "-n")
    out = proc.stdout + proc.stderr
    assert "dd_train" in out and "dd_figures" in out
    assert "lottery_search" not in out and "benchmark_train" not in out
