"""seeds_per_job: seeds cut into consecutive chunks, one job each (mnist1d.experiments.seed_chunks),
and the aggregated tables of benchmark, pooling and double descent the same whatever the cut.

The tables are compared in float64: in float32 on the CPU the CNN's trajectory depends on the
ensemble size K (K = 3 and K = 1 differ in the last digits; logistic, MLP and GRU do not), so a
float32 comparison would test the convolution kernel, not the chunking."""
import copy

import pandas as pd
import pytest
import torch

from mnist1d import train
from mnist1d.experiments import seed_chunks
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.experiments import benchmark, double_descent as dd, pooling
from helpers import REPO

pytestmark = pytest.mark.usefixtures("one_thread")


def config(**sections):
    import yaml
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    for name, overrides in sections.items():
        base[name].update(overrides)
    return base


# --- chunking ------------------------------------------------------------------------------------

def test_chunks_are_consecutive_and_at_most_seeds_per_job():
    assert seed_chunks.seed_chunks([0, 1, 2, 3, 4], 2) == [[0, 1], [2, 3], [4]]
    assert seed_chunks.seed_chunks([5, 3, 9], None) == [[5, 3, 9]]
    assert seed_chunks.seed_chunks([5, 3, 9], 10) == [[5, 3, 9]]
    assert seed_chunks.chunks_of({"seeds": [0, 1, 2, 3, 4], "seeds_per_job": 2}) == {
        "_seeds0-1": [0, 1], "_seeds2-3": [2, 3], "_seed4": [4]}


def test_the_default_is_one_chunk_with_no_tag():
    """Unset or null: every seed in one job, and the file names of a run without the setting."""
    assert seed_chunks.chunks_of({"seeds": [0, 1, 2]}) == {"": [0, 1, 2]}
    assert seed_chunks.chunks_of({"seeds": [0, 1, 2], "seeds_per_job": None}) == {"": [0, 1, 2]}
    # set, even to more than the seeds: tagged, so that adding seeds later renames nothing
    assert seed_chunks.chunks_of({"seeds": [0, 1, 2], "seeds_per_job": 5}) == {"_seeds0-2": [0, 1, 2]}


def test_adding_seeds_leaves_the_earlier_chunks_unchanged():
    for per_job in (1, 2):
        before = seed_chunks.chunks_of({"seeds": [0, 1, 2, 3], "seeds_per_job": per_job})
        after = seed_chunks.chunks_of({"seeds": [0, 1, 2, 3, 4, 5], "seeds_per_job": per_job})
        assert {t: s for t, s in after.items() if t in before} == before
        assert sum(after.values(), []) == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True])
def test_a_bad_seeds_per_job_names_the_key(value):
    with pytest.raises(ValueError, match=r"'pooling\.seeds_per_job'"):
        seed_chunks.chunks_of({"seeds": [0, 1], "seeds_per_job": value}, "pooling")


def test_an_unknown_chunk_names_the_key():
    with pytest.raises(ValueError, match=r"'benchmark\.seeds'.*_seed7"):
        seed_chunks.chunk_seeds({"seeds": [0, 1], "seeds_per_job": 1}, "_seed7", "benchmark")


def test_the_wildcard_pattern_matches_exactly_the_tags():
    import re
    pattern = seed_chunks.wildcard_pattern({"seeds": [0, 1, 2], "seeds_per_job": 2})
    assert [t for t in ("_seeds0-1", "_seed2", "", "_seed0", "_seeds0-12")
            if re.fullmatch(pattern, t)] == ["_seeds0-1", "_seed2"]
    default = seed_chunks.wildcard_pattern({"seeds": [0, 1, 2]})
    assert default and re.fullmatch(default, "") and not re.fullmatch(default, "_seed0")


# --- protocols -----------------------------------------------------------------------------------

def test_each_job_gets_only_its_chunk_of_seeds():
    c = config(benchmark={"seeds": [0, 1, 2, 3, 4], "seeds_per_job": 2},
               pooling={"seeds": [3, 1, 2], "seeds_per_job": 1},
               double_descent={"seeds": [0, 1, 2], "seeds_per_job": 2})
    p = benchmark.protocol_from_config(c, "cnn", "normal", "_seeds2-3")
    assert p["seeds"] == [2, 3]
    assert benchmark.protocol_from_config(c, "cnn", "normal", "_seed4")["seeds"] == [4]
    assert pooling.protocol_from_config(c, "max", "_seed1")["seeds"] == [1]
    jobs = dd.plan_jobs(c["double_descent"])
    names = [j["name"] for j in jobs]
    assert "mlp_cross_entropy_g0_seeds0-1" in names and "mlp_cross_entropy_g0_seed2" in names
    assert dd.protocol_from_config(c, "mlp_cross_entropy_g0_seed2")["job"]["seeds"] == [2]
    # every (group, loss) has one job per chunk, and the chunks together hold every seed
    unsplit = dd.plan_jobs(dict(c["double_descent"], seeds_per_job=None))
    assert len(jobs) == 2 * len(unsplit)
    for job in unsplit:
        parts = [j for j in jobs if j["name"].startswith(job["name"] + "_")]
        assert sum((j["seeds"] for j in parts), []) == [0, 1, 2]
        assert all(j["sizes"] == job["sizes"] and j["noises"] == job["noises"] for j in parts)


def test_the_default_protocols_are_those_of_one_job_of_every_seed():
    c = config()
    assert c["benchmark"]["seeds_per_job"] is None
    assert benchmark.protocol_from_config(c, "mlp", "shuffled")["seeds"] == c["benchmark"]["seeds"]
    assert pooling.protocol_from_config(c, "none")["seeds"] == c["pooling"]["seeds"]
    assert [j["name"] for j in dd.plan_jobs(c["double_descent"])][:2] == [
        "mlp_cross_entropy_g0", "mlp_cross_entropy_g1"]


def test_adding_a_seed_leaves_the_existing_jobs_protocols_unchanged():
    small = config(benchmark={"seeds": [0, 1, 2], "seeds_per_job": 1})
    more = config(benchmark={"seeds": [0, 1, 2, 3], "seeds_per_job": 1})
    for tag in ("_seed0", "_seed1", "_seed2"):
        assert (benchmark.protocol_from_config(small, "gru", "normal", tag)
                == benchmark.protocol_from_config(more, "gru", "normal", tag))


# --- aggregation: the same tables whatever seeds_per_job is (float64) ----------------------------

def _split_and_unsplit(seeds, per_job, run):
    """run(seeds) of every chunk, and of all seeds at once."""
    parts = [run(chunk) for chunk in seed_chunks.seed_chunks(seeds, per_job)]
    return parts, run(seeds)


@pytest.fixture(scope="module")
def reference(frozen):
    return {"x": frozen["x"][:400], "y": frozen["y"][:400], "x_test": frozen["x_test"][:300],
            "y_test": frozen["y_test"][:300]}


def test_benchmark_tables_do_not_depend_on_seeds_per_job(reference):
    protocol = {"optimizer": "adam", "lr": 0.01, "batch_size": 100, "steps": 8, "eval_every": 4,
                "order": "in_order"}
    seeds = [4, 0, 2]

    def run(model):
        def one(chunk):
            h, _ = train.train(reference, model, protocol, chunk, dtype=torch.float64)
            return benchmark.label_history(h, model, "normal")
        return one

    for per_job in (1, 2):
        split, whole = [], []
        for model in ("cnn", "mlp"):
            parts, all_seeds = _split_and_unsplit(seeds, per_job, run(model))
            split += parts
            whole.append(all_seeds)
        whole = benchmark.combine(whole)
        pd.testing.assert_frame_equal(benchmark.combine(split), whole, rtol=1e-12, atol=1e-12)
        pd.testing.assert_frame_equal(benchmark.summarise(benchmark.combine(split)),
                                      benchmark.summarise(whole), rtol=1e-12, atol=1e-12)
        assert benchmark.markdown(benchmark.summarise(benchmark.combine(split))) == \
            benchmark.markdown(benchmark.summarise(whole))


def test_pooling_tables_do_not_depend_on_seeds_per_job():
    args = get_dataset_args()
    datasets = {}
    for name, n in (("a", 500), ("b", 700)):
        args.num_samples, args.train_split = n, (n - 300) / n
        datasets[name] = make_dataset(copy.deepcopy(args))
    protocol = {"optimizer": "adam", "lr": 0.01, "batch_size": 100, "steps": 6, "eval_every": 3}

    def run(variant):
        return lambda chunk: pooling.train_sizes(datasets, variant, chunk, protocol,
                                                 channels=4, dtype=torch.float64)

    seeds = [2, 0, 1]
    split, whole = [], []
    for variant in ("none", "max"):
        parts, all_seeds = _split_and_unsplit(seeds, 1, run(variant))
        split += parts
        whole.append(all_seeds)
    whole = pooling.combine(whole)
    assert list(whole.seed.unique()) == [0, 1, 2]           # the unsplit job's order
    combined = pooling.combine(split)
    assert not pd.concat(split, ignore_index=True).equals(combined)   # the sort did something
    pd.testing.assert_frame_equal(combined, whole, rtol=1e-12, atol=1e-12)
    pd.testing.assert_frame_equal(pooling.summarise(combined), pooling.summarise(whole),
                                  rtol=1e-12, atol=1e-12)


def test_double_descent_tables_do_not_depend_on_seeds_per_job(reference):
    small = {0.0: reference, 0.15: dict(reference, y=dd.noisy_labels(reference["y"], 0.15, 3))}
    settings = {"lr": 0.01, "momentum": 0.9, "batch_size": 100, "epochs": 2,
                "eval_every_epochs": 1}
    section = {"seeds": [1, 0, 2], "seeds_per_job": 2,
               "mlp": {"sizes": [3, 9, 30], "noise": [0.0, 0.15], "losses": ["cross_entropy"]},
               "cnn": {"sizes": [2, 3], "noise": [0.15], "losses": ["mse"]}}
    split_jobs = dd.plan_jobs(section)
    whole_jobs = dd.plan_jobs(dict(section, seeds_per_job=None))
    assert len(split_jobs) == 2 * len(whole_jobs) > 2
    train_all = lambda jobs: [dd.train_group(j, small, settings, dtype=torch.float64)  # noqa: E731
                              for j in jobs]
    split = dd.combine(train_all(split_jobs))
    whole_parts = train_all(whole_jobs)
    whole = dd.combine(whole_parts)
    pd.testing.assert_frame_equal(whole, pd.concat(whole_parts, ignore_index=True))
    pd.testing.assert_frame_equal(split, whole, rtol=1e-12, atol=1e-12)
    table = dd.aggregate(split)
    pd.testing.assert_frame_equal(table, dd.aggregate(whole), rtol=1e-12, atol=1e-12)
    pd.testing.assert_frame_equal(dd.find_thresholds(table, 400),
                                  dd.find_thresholds(dd.aggregate(whole), 400))
