"""seeds_per_job end to end: one job per chunk of seeds, the same tables as one job of every
seed, and a seed added later plans only its own jobs and the aggregation."""
import re
import shutil

import pandas as pd
import yaml

from helpers import SMOKE, run_snakemake

TRAINING = {"benchmark_train", "pooling_train", "dd_train"}
# Tiny benchmark and double descent: logistic regression and MLPs, whose float32 trajectories do
# not depend on the ensemble size on the CPU (the CNN's do: tests/test_seed_chunks.py compares it
# in float64), so the tables must be equal to the last digit. Few jobs: each costs a start-up.
TINY = {"preset": "smoke",
        "benchmark": {"models": ["logistic"], "steps": 40, "eval_every": 20},
        "double_descent": {"cnn": None,
                           "mlp": {"sizes": [2, 8], "noise": [0.0], "losses": ["cross_entropy"]}}}
TABLES = [f"{SMOKE}/benchmark/benchmark.csv", f"{SMOKE}/benchmark/history.csv",
          f"{SMOKE}/double_descent/double_descent.csv", f"{SMOKE}/double_descent/thresholds.csv",
          f"{SMOKE}/double_descent/history.csv"]


def job_counts(out):
    stats = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stats, flags=re.M)
            if rule != "total"}


def snakemake(workdir, config, *args):
    path = workdir / "overrides.yaml"
    path.write_text(yaml.safe_dump(config))
    return run_snakemake(workdir, *TABLES[::2], *args, "--cores", "2", "--configfile", str(path),
                         timeout=600)


def with_seeds(config, per_job, seeds=(0, 1)):
    out = yaml.safe_load(yaml.safe_dump(config))
    for section in ("benchmark", "double_descent"):
        out[section].update(seeds=list(seeds), seeds_per_job=per_job)
    return out


def test_seeds_per_job_plans_one_job_per_chunk(smoke_run, tmp_path):
    """The smoke preset's `all` with seeds_per_job 1 (3 double-descent seeds): 16 benchmark, 4
    pooling and 3 x 3 double-descent jobs, where the default plans 8, 2 and 3."""
    extra = tmp_path / "overrides.yaml"
    extra.write_text(yaml.safe_dump({
        "preset": "smoke", "benchmark": {"seeds_per_job": 1}, "pooling": {"seeds_per_job": 1},
        "double_descent": {"seeds": [0, 1, 2], "seeds_per_job": 1}}))
    proc = run_snakemake(smoke_run, "all", "-n", "--configfile", str(extra), timeout=300)
    planned = job_counts(proc.stdout + proc.stderr)
    assert {r: n for r, n in planned.items() if r in TRAINING} == {
        "benchmark_train": 16, "pooling_train": 4, "dd_train": 9}, planned
    assert "history_cnn_shuffled_seed1.csv" in proc.stdout
    assert "runs/mlp_mse_g0_seed2.csv" in proc.stdout


def test_chunked_tables_equal_the_unsplit_ones_and_a_new_seed_plans_only_its_jobs(smoke_run,
                                                                                    tmp_path):
    # the smoke run's datasets, not made again
    shutil.copytree(smoke_run / SMOKE / "data", tmp_path / SMOKE / "data")
    snakemake(tmp_path, with_seeds(TINY, None))
    unsplit = {t: pd.read_csv(tmp_path / t) for t in TABLES}
    assert (tmp_path / SMOKE / "benchmark/history_logistic_normal.csv").exists()
    assert set(unsplit[TABLES[0]].n_seeds) == {2}

    snakemake(tmp_path, with_seeds(TINY, 1))
    assert (tmp_path / SMOKE / "benchmark/history_logistic_shuffled_seed1.csv").exists()
    assert (tmp_path / SMOKE / "double_descent/runs/mlp_cross_entropy_g0_seed1.csv").exists()
    log = (tmp_path / SMOKE / "logs/benchmark/logistic_normal_seed1.log").read_text()
    assert "seeds [1] as one ensemble" in log
    for table, expected in unsplit.items():
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / table), expected, check_exact=True,
                                      obj=table)

    # a third seed: its jobs (1 benchmark model x 2 variants, 1 double-descent group) and the
    # aggregation
    proc = snakemake(tmp_path, with_seeds(TINY, 1, seeds=(0, 1, 2)), "-n")
    planned = job_counts(proc.stdout + proc.stderr)
    assert planned == {"benchmark_train": 2, "benchmark_summary": 1, "dd_train": 1,
                       "dd_aggregate": 1}, planned
