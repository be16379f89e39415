"""`jobs.pieces: gpu` end to end, forced on the CPU: the smoke preset's double descent and lottery
as the larger GPU-sized jobs give the tables of the CPU-sized ones (the merges put the rows back
in the order of one ensemble of every member)."""
import re
import shutil

import yaml

from helpers import SMOKE, run_snakemake
from mnist1d.pipeline import compare

# The tables of the two experiments (the per-job files, lottery/search/, lottery/analysis/ and
# double_descent/runs/, are named by the pieces and left out).
TABLES = [f"lottery/{name}" for name in (
    "search_history.csv", "masks.npz", "analysis_history.csv", "analysis.csv", "adjacency.csv",
    "search.csv", "sweep.csv", "targets.md", "analysis.md")] + [
    f"double_descent/{name}" for name in (
        "history.csv", "double_descent.csv", "thresholds.csv", "summary.md")]
# Exactly equal wherever it runs: the lottery's MLPs (tests/test_lottery.py holds the search and
# the analysis to it too). The double-descent CNN's float32 numbers may depend on the ensemble
# size on other CPUs (tests/test_seed_chunks.py): its tables are held to the record's tolerances
# (on the machine this was written on they were exactly equal as well).
EXACT = [t for t in TABLES if t.startswith("lottery/")]
# The smoke preset, with a larger size of each architecture so that the CPU's pieces cut the
# sizes into two groups ([120], [32, 8, 2]; [30], [6, 2]), which the GPU's join.
SIZES = {"double_descent": {"mlp": {"sizes": [2, 8, 32, 120]}, "cnn": {"sizes": [2, 6, 30]}}}
TRAINING = ("dd_train", "lottery_search_segment", "lottery_analysis_part")


def run(workdir, pieces, *args):
    path = workdir / "overrides.yaml"
    path.write_text(yaml.safe_dump({"preset": "smoke", "jobs": {"pieces": pieces}, **SIZES}))
    targets = [f"{SMOKE}/{t}" for t in TABLES]
    return run_snakemake(workdir, *targets, *args, "--cores", "2", "--configfile", str(path),
                         timeout=900)


def planned(proc):
    stats = (proc.stdout + proc.stderr).split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stats, flags=re.M)
            if rule in TRAINING}


def test_gpu_pieces_on_the_cpu_give_the_cpu_pieces_tables(tmp_path):
    cpu, gpu = tmp_path / "cpu", tmp_path / "gpu"
    cpu.mkdir()
    gpu.mkdir()
    assert planned(run(cpu, "cpu", "-n")) == {"dd_train": 6, "lottery_search_segment": 6,
                                              "lottery_analysis_part": 6}
    assert planned(run(gpu, "gpu", "-n")) == {"dd_train": 3, "lottery_search_segment": 3,
                                              "lottery_analysis_part": 3}
    run(cpu, "cpu")
    shutil.copytree(cpu / SMOKE / "data", gpu / SMOKE / "data")     # the same datasets
    run(gpu, "gpu")
    assert (gpu / SMOKE / "lottery/search/magnitude_42_43_000-002.csv").exists()
    assert (gpu / SMOKE / "lottery/analysis/lottery_42_43.csv").exists()
    assert (gpu / SMOKE / "double_descent/runs/mlp_mse_sizes120-2.csv").exists()
    log = (gpu / SMOKE / "logs/lottery/analysis_dense_42_43.log").read_text()
    assert "10 networks in ensembles of 150" in log

    exact = [t for t in TABLES if compare.difference(cpu / SMOKE / t, gpu / SMOKE / t) == ""]
    print("exactly equal:", exact)
    # every table within the record's tolerances (what float rounding of batched kernels may
    # leave) ...
    for run_dir in (cpu, gpu):
        for table in TABLES:
            (run_dir / "tables" / table).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(run_dir / SMOKE / table, run_dir / "tables" / table)
    assert compare.check_record(compare.record(cpu / "tables"), gpu / "tables") == []
    # ... and the lottery's exactly
    assert set(EXACT) <= set(exact), sorted(set(EXACT) - set(exact))
