"""A sweep end to end at the smoke preset: datasets of another input length, one job per value
and seed chunk, the tidy table and the figure (`snakemake sweeps` makes every sweep this way)."""
import re

import pandas as pd

from helpers import SMOKE, run_snakemake
from mnist1d.experiments import sweeps


def test_a_sweep_runs_end_to_end(tmp_path):
    targets = [f"{SMOKE}/sweeps/resolution.csv", f"{SMOKE}/sweeps/resolution.png"]
    plan = run_snakemake(tmp_path, *targets, "-n", "--quiet", "rules", "--config", "preset=smoke")
    assert re.search(r"^sweep_train\s+4$", plan.stdout, re.M), plan.stdout   # 2 values x 2 seed chunks
    run_snakemake(tmp_path, "--cores", "2", *targets, "--config", "preset=smoke")
    results = tmp_path / SMOKE / "sweeps"
    df = pd.read_csv(results / "resolution.csv")
    assert list(df.columns) == sweeps.COLUMNS
    # smoke: final_seq_length 20 and 40, four models, seeds 0 and 1 one per job
    assert sorted(set(df["value"])) == [20, 40]
    assert list(dict.fromkeys(df["model"])) == ["logistic", "mlp", "cnn", "gru"]
    assert len(df) == 2 * 4 * 2 and set(df["seed"]) == {0, 1} and set(df["steps"]) == {20}
    assert df["test_acc"].between(0, 100).all()
    assert sorted(p.name for p in (results / "runs" / "resolution" / "20").iterdir()) == \
        ["finals_seed0.csv", "finals_seed1.csv"]
    assert (results / "resolution.pdf").stat().st_size > 0
    assert (results / "resolution.png").read_bytes()[:4] == b"\x89PNG"
    assert "| final_seq_length |" in (results / "resolution.md").read_text()
    # nothing left to do, and `all` (the paper) plans no sweep job
    again = run_snakemake(tmp_path, *targets, "-n", "--config", "preset=smoke")
    assert "Nothing to be done" in again.stdout + again.stderr
    paper = run_snakemake(tmp_path, "all", "-n", "--quiet", "rules", "--config", "preset=smoke")
    assert re.search(r"^all\s+1$", paper.stdout, re.M), paper.stdout
    assert not re.search(r"^sweep", paper.stdout, re.M), paper.stdout
