"""The job functions (mnist1d.experiments: one per job kind), each run on the CPU with its smoke
protocol as the rule passes it: the outputs the rule writes, their columns and shapes; and
mnist1d.pipeline.script.write_outputs, which writes them."""
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import resolved_config
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.pipeline.script import write_outputs
from mnist1d.utils import ObjectView


@pytest.fixture(scope="module")
def config():
    return resolved_config("smoke")


@pytest.fixture(scope="module")
def datasets(config):
    """The smoke preset's named datasets, made on first use."""
    made = {}

    def get(name):
        if name not in made:
            args = get_dataset_args(as_dict=True) | dict(config["datasets"][name] or {})
            made[name] = make_dataset(ObjectView(args))
        return made[name]
    return get


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def log():
    logger = logging.getLogger("test_jobs")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = Lines()
    logger.handlers = [handler]
    logger.lines = handler.lines
    return logger


def test_benchmark_train_job(config, datasets, log):
    from mnist1d.experiments import benchmark

    p = benchmark.protocol_from_config(config, "logistic", "shuffled")
    out = benchmark.train_job(p, {"dataset": datasets("shuffled")}, device="cpu", logger=log)
    assert set(out) == {"history", "predictions"}
    history, predictions = out["history"], out["predictions"]
    assert list(history.columns[:4]) == ["model", "variant", "seed", "step"]
    assert set(history.model) == {"logistic"} and set(history.variant) == {"shuffled"}
    steps = p["engine"]["steps"]
    assert sorted(history.step.unique()) == list(range(0, steps + 1, p["engine"]["eval_every"]))
    assert len(history) == len(p["seeds"]) * len(history.step.unique())
    assert list(predictions.columns) == benchmark.PREDICTION_COLUMNS
    assert len(predictions) == len(p["seeds"]) * len(datasets("shuffled")["y_test"])
    last = history[history.step == steps].set_index("seed").test_acc
    for seed, part in predictions.groupby("seed"):   # the history's accuracy, recomputed
        assert 100 * (part.label == part.prediction).mean() == pytest.approx(last[seed])
    assert any(f"step {steps:6d}/{steps}" in line for line in log.lines)   # the engine logs


def test_write_outputs(tmp_path):
    frame = pd.DataFrame({"a": [1, 2]})
    arrays = {"before": np.zeros((2, 3)), "seed": 0}
    paths = {"csv": tmp_path / "t.csv", "embeddings": tmp_path / "e.npz"}
    write_outputs({"csv": frame, "embeddings": arrays}, paths)
    assert pd.read_csv(paths["csv"]).equals(frame)
    with np.load(paths["embeddings"]) as npz:
        assert list(npz.keys()) == ["before", "seed"] and npz["before"].shape == (2, 3)
    with pytest.raises(ValueError, match="not the rule's outputs"):
        write_outputs({"csv": frame}, paths)
    with pytest.raises(TypeError):
        write_outputs({"csv": [1], "embeddings": arrays}, paths)

    class Saves:                       # a value that writes itself (the lottery's mask store)
        def save(self, path):
            Path(path).write_text("saved")
    write_outputs({"csv": frame, "embeddings": Saves()}, paths)
    assert paths["embeddings"].read_text() == "saved"


def test_double_descent_train_job(config, datasets, log):
    from mnist1d.experiments import double_descent as dd

    section = config["double_descent"]
    job = min(dd.plan_jobs(section), key=dd.job_cost)
    p = dd.protocol_from_config(config, job["name"])
    base = datasets(section["dataset"])
    inputs = {noise: dict(base, y=dd.noisy_labels(base["y"], noise, section["noise_seed"]))
              for noise in job["noises"]}
    out = dd.train_job(p, inputs, device="cpu", logger=log)
    assert set(out) == {"history"}
    history = out["history"]
    assert list(history.columns[:6]) == ["arch", "size", "parameters", "loss", "noise", "seed"]
    assert {"epoch", "step", "train_error", "test_error", "train_loss", "test_loss"} <= set(
        history.columns)
    members = dd.job_members(job)
    assert len(history[["size", "noise", "seed"]].drop_duplicates()) == len(members)
    assert history.epoch.max() == pytest.approx(p["epochs"])
    assert history.train_error.between(0, 100).all() and history.test_error.between(0, 100).all()
    assert any(f"job {job['name']}" in line for line in log.lines)


def test_pooling_train_job(config, datasets, log):
    from mnist1d.experiments import pooling

    p = pooling.protocol_from_config(config, "max")
    inputs = {name: datasets(name) for name in reversed(p["datasets"])}   # order from protocol
    out = pooling.train_job(p, inputs, device="cpu", logger=log)
    assert set(out) == {"history"}
    history = out["history"]
    assert list(history.columns) == pooling.COLUMNS
    assert list(history.dataset.unique()) == p["datasets"]
    steps, every = p["engine"]["steps"], p["engine"]["eval_every"]
    evaluations = len(range(0, steps + 1, every))
    assert len(history) == len(p["datasets"]) * len(p["seeds"]) * evaluations
    assert history.test_acc.between(0, 100).all()
    assert any(line.startswith(f"step {steps:6d}/{steps}") for line in log.lines)


def test_ssl_train_job(config, datasets, log):
    from mnist1d.experiments import ssl

    p = ssl.protocol_from_config(config)
    p["seeds"] = p["seeds"][:1]   # the probes take a while: one seed's
    data = datasets(config["ssl"]["dataset"])
    out = ssl.train_job(p, {"dataset": data}, device="cpu", logger=log)
    assert list(out) == ["csv", "history", "embeddings"]
    probes, history, embeddings = out["csv"], out["history"], out["embeddings"]
    assert list(probes.columns) == ["layer", "dim", "stage", "seed", "knn_acc", "linear_acc"]
    layers = len(ssl.LAYERS) - 1
    assert len(probes) == 1 + 2 * len(p["seeds"]) * layers   # input once; before, after x seeds
    assert list(history.columns) == ["seed", "epoch", "loss"]
    assert len(history) == len(p["seeds"]) * p["settings"]["epochs"]
    n = len(data["x"]) + len(data["x_test"])
    assert list(embeddings) == ["before", "after", "y", "seed"]
    assert embeddings["before"].shape == embeddings["after"].shape == (n, 16)
    assert embeddings["y"].shape == (n,) and embeddings["seed"] == p["seeds"][0]
    assert any(line.startswith("trained in") for line in log.lines)
    assert any("linear probe on the 125-d features" in line for line in log.lines)
    without = ssl.train_job(p, {"dataset": data}, probes=False)
    assert list(without) == ["history", "embeddings"]
    assert without["history"].equals(history)


def test_ssl_variant_job(config, datasets, log):
    from mnist1d.experiments import ssl

    p = ssl.variant_protocol(config, "none")
    out = ssl.variant_job(p, {"dataset": datasets(config["ssl"]["dataset"])}, logger=log)
    assert list(out) == ["csv", "history"]
    probes = out["csv"]
    assert set(probes.stage) == {"input", "after"}
    assert set(probes.layer) == {"input", "conv1", "conv2", "conv3"}   # no projector
    assert len(out["history"]) == len(p["seeds"]) * p["settings"]["epochs"]
    assert log.lines[0] == "model none: projector []"


def test_sweeps_train_job(config, log):
    from mnist1d.experiments import sweeps

    chunk = sweeps.chunks(config, "iid_noise")[0]
    p = sweeps.protocol_from_config(config, "iid_noise", "0.2", chunk)
    p["models"] = {m: p["models"][m] for m in ("logistic", "mlp")}
    args = get_dataset_args(as_dict=True) | sweeps.dataset_args(config, "iid_noise", "0.2")
    out = sweeps.train_job(p, {"dataset": make_dataset(ObjectView(args))}, logger=log)
    assert set(out) == {"finals"}
    finals = out["finals"]
    assert list(finals.columns) == sweeps.COLUMNS
    assert list(finals.model) == ["logistic"] * len(p["seeds"]) + ["mlp"] * len(p["seeds"])
    assert (finals.steps == p["engine"]["steps"]).all() and (finals.value == 0.2).all()


def test_metalearn_lr_train_job(config, datasets, log):
    from mnist1d.experiments import metalearn_lr

    p = metalearn_lr.protocol_from_config(config)
    out = metalearn_lr.train_job(p, {"dataset": datasets(config["metalearn"]["lr"]["dataset"])},
                                 device="cpu", logger=log)
    assert set(out) == {"trials"}
    trials = out["trials"]
    assert list(trials.columns) == ["start_lr", "outer_step", "lr", "outer_loss",
                                    "final_inner_loss", "meta_grad", "lr_next", "seconds"]
    assert len(trials) == len(p["start_lrs"]) * p["outer_steps"]
    assert list(trials.start_lr.unique()) == p["start_lrs"]
    assert log.lines[0] == f"protocol {p} on cpu"


@pytest.fixture(scope="module")
def afunc_run(config, datasets, tmp_path_factory):
    """The smoke activation job, run once with a checkpoint: (protocol, outputs, checkpoint)."""
    from mnist1d.experiments import metalearn_afunc

    p = metalearn_afunc.protocol_from_config(config)
    checkpoint = tmp_path_factory.mktemp("afunc") / "checkpoints" / "afunc.pt"
    data = datasets(config["metalearn"]["afunc"]["dataset"])
    out = metalearn_afunc.train_job(p, {"dataset": data}, checkpoint=str(checkpoint))
    return p, out, checkpoint


def test_metalearn_afunc_train_job(config, datasets, afunc_run, log):
    from mnist1d.experiments import metalearn_afunc

    p, out, checkpoint = afunc_run
    assert list(out) == ["steps", "function", "activations", "curves"]
    assert list(out["steps"].outer_step) == list(range(p["outer_steps"]))
    assert list(out["function"].columns) == ["outer_step", "x", "y"]
    assert out["function"].outer_step.nunique() == p["outer_steps"] // p["sample_every"] + 1
    activations = out["activations"]
    assert list(activations.activation) == ["learned", *p["baselines"]]
    assert activations.mean_outer_objective.iloc[0] == pytest.approx(
        out["steps"].outer_loss.mean())
    assert list(out["curves"].columns) == ["activation", "inner_step", "train_loss", "test_acc"]
    assert len(out["curves"]) == (1 + len(p["baselines"])) * p["inner_steps"]
    # the checkpoint is left for the caller; a second run resumes from it, to the same tables
    assert checkpoint.exists()
    data = datasets(config["metalearn"]["afunc"]["dataset"])
    again = metalearn_afunc.train_job(p, {"dataset": data}, logger=log,
                                      checkpoint=str(checkpoint))
    assert any(line.startswith(f"resuming from {checkpoint}") for line in log.lines)
    for name in ("steps", "function"):
        assert again[name].drop(columns="seconds", errors="ignore").equals(
            out[name].drop(columns="seconds", errors="ignore"))
    assert again["activations"].equals(activations)


def test_afunc_fit_fit_job(config, datasets, afunc_run, log):
    from mnist1d.experiments import afunc_fit

    _, afunc_out, _ = afunc_run
    p = afunc_fit.protocol_from_config(config)
    inputs = {"dataset": datasets(config["metalearn"]["afunc"]["dataset"]),
              "function": afunc_out["function"], "activations": afunc_out["activations"]}
    out = afunc_fit.fit_job(p, inputs, device="cpu", logger=log)
    assert list(out) == ["table", "pieces", "samples", "curves"]
    table = out["table"]
    assert list(table.activation) == ["fitted", *afunc_out["activations"].activation]
    assert table.fit_rms.iloc[0] >= 0 and table.outer_step.iloc[0] == p["afunc"]["outer_steps"]
    assert len(out["pieces"]) == len(p["knots"]) + 1
    assert list(out["samples"].columns) == ["x", "learned", "fitted"]
    assert len(out["samples"]) == p["afunc"]["sample_points"]
    assert len(out["curves"]) == p["afunc"]["inner_steps"]
    assert log.lines[0] == f"knots {p['knots']}, continuous {p['continuous']} on cpu"


def test_tsne_baselines_job(config, datasets, log):
    from mnist1d.experiments import tsne

    p = tsne.protocol_from_config(config)
    out = tsne.baselines_job(p, {"dataset": datasets(config["tsne"]["dataset"])}, logger=log)
    assert set(out) == {"baselines"}
    table = out["baselines"]
    assert list(table.columns) == ["method", "space", "n_train", "n_test", "test_acc",
                                   "published_test_acc"]
    assert len(table) == 2 and table.test_acc.between(0, 100).all()
    assert table.method.iloc[0] == f"kNN (k={p['knn_k']}, Euclidean)"
    assert "kNN" in log.lines[0]


class Interrupted(Exception):
    pass


class InterruptAfter(logging.Handler):
    """Stops the job at the log line that starts with `line`, as a kill would."""

    def __init__(self, line):
        super().__init__()
        self.line = line

    def emit(self, record):
        if record.getMessage().startswith(self.line):
            raise Interrupted(self.line)


@pytest.fixture(scope="module")
def lottery_chain(config, datasets, tmp_path_factory):
    """The smoke lottery ticket's chain of trial 42 as the rules run it: its segments (the
    first ends at the analysed round), each protocol as lottery_segment_protocol gives it and
    the outputs of each, the one after the first from the mask store the first wrote."""
    from mnist1d.experiments import lottery

    section = config["lottery"]["search"]
    grid = lottery.sparsity_grid(section["rounds"])
    analysed = lottery.nearest_round(grid, config["lottery"]["analysis"]["sparsity"])
    p = lottery.protocol_from_config(config, "search")
    segments = [s for s in lottery.search_segments(p["trials"], p["methods"], section["rounds"],
                                                   p["random_ticket"], analysed)
                if (s["trials"], s["method"]) == ([42], "magnitude")]
    folder = tmp_path_factory.mktemp("lottery")
    chain, store = [], None
    for seg in segments:
        protocol = {**p, "trials": [42], "methods": ["magnitude"], "first_round": seg["first"],
                    "stop_round": seg["stop"]}
        inputs = {"dataset": datasets(section["dataset"])}
        if seg["after"]:
            inputs["start"] = store
        out = lottery.segment_job(protocol, inputs, device="cpu")
        out["masks"].save(folder / f"{seg['name']}.npz")
        store = lottery.MaskStore(folder / f"{seg['name']}.npz")
        chain.append((seg, protocol, out, store))
    return analysed, chain


def test_lottery_search_segment_job(config, lottery_chain):
    from mnist1d.experiments import lottery

    analysed, chain = lottery_chain
    assert [seg["after"] for seg, *_ in chain] == [None, chain[0][0]["name"]]
    rounds = config["lottery"]["search"]["rounds"]
    for seg, p, out, store in chain:
        assert list(out) == ["history", "masks"]
        history, masks = out["history"], out["masks"]
        assert list(history.columns[:6]) == ["round", "sparsity", "kept", "trial", "method",
                                             "step"]
        assert {"train_loss", "test_loss", "train_acc", "test_acc"} <= set(history.columns)
        assert sorted(history["round"].unique()) == list(range(seg["first"], seg["stop"]))
        assert set(history.trial) == {42} and set(history.method) == {"magnitude"}
        assert isinstance(masks, lottery.SearchMasks) and masks.members == [(42, "magnitude")]
        assert masks.first_round == seg["first"] and len(masks.rounds) == seg["stop"] - seg["first"]
        assert (masks.next is None) == (seg["stop"] == rounds)   # the last segment leaves none
        assert (store.first, store.rounds) == (seg["first"], seg["stop"])
    # the second segment continued the first: its masks prune the first's last next masks
    first, second = chain[0][3], chain[1][3]
    for name in first.names:
        np.testing.assert_array_equal(first.next_packed()[name],
                                      second.arrays[f"mask/{name}"][0])
    assert chain[0][0]["first"] <= analysed < chain[0][0]["stop"]


def test_lottery_search_segment_resumes_from_its_checkpoint(config, datasets, lottery_chain,
                                                            tmp_path, log):
    """A segment killed after its first round resumes from its checkpoint to the tables of an
    uninterrupted run (history and mask store, byte for byte); remove_checkpoint then leaves
    nothing."""
    from mnist1d.experiments import lottery

    _, chain = lottery_chain
    seg, p, out, _ = chain[0]
    assert seg["stop"] - seg["first"] > 1
    data = {"dataset": datasets(config["lottery"]["search"]["dataset"])}
    checkpoint = tmp_path / "checkpoint" / seg["name"]
    killer = logging.getLogger("test_jobs_killed")
    killer.setLevel(logging.INFO)
    killer.propagate = False
    killer.handlers = [InterruptAfter(f"round {seg['first']:3d}/")]
    with pytest.raises(Interrupted):
        lottery.segment_job(p, data, logger=killer, checkpoint=str(checkpoint))
    assert (checkpoint / "state.json").exists()
    again = lottery.segment_job(p, data, logger=log, checkpoint=str(checkpoint))
    assert any(line.startswith(f"resuming after round {seg['first']}") for line in log.lines)
    assert not any(line.startswith(f"round {seg['first']:3d}/") for line in log.lines)
    pd.testing.assert_frame_equal(again["history"], out["history"], check_exact=True)
    out["masks"].save(tmp_path / "uninterrupted.npz")
    again["masks"].save(tmp_path / "resumed.npz")
    assert (tmp_path / "resumed.npz").read_bytes() == (tmp_path / "uninterrupted.npz").read_bytes()
    lottery.remove_checkpoint(str(checkpoint))
    assert not (tmp_path / "checkpoint").exists()


def test_lottery_analysis_part_job(config, datasets, lottery_chain, log):
    from mnist1d.experiments import lottery

    analysed, chain = lottery_chain
    store = chain[0][3]
    grid = lottery.sparsity_grid(config["lottery"]["search"]["rounds"]).tolist()
    data = datasets(config["lottery"]["analysis"]["dataset"])
    base = lottery.protocol_from_config(config, "analysis")
    for network, inputs in (("lottery", {"dataset": data, "masks": store}),
                            ("dense", {"dataset": data})):   # no masks: none needed
        p = {**base, "part": [42, network], "grid": grid}
        out = lottery.part_job(p, inputs, device="cpu", logger=log)
        assert set(out) == {"history"}
        history = out["history"]
        assert list(history.columns[:6]) == ["round", "sparsity", "trial", "condition",
                                             "network", "step"]
        assert set(history["round"]) == {analysed} and set(history.trial) == {42}
        assert set(history.network) == {network}
        assert list(history.condition.unique()) == list(lottery.CONDITIONS)
        steps, every = p["engine"]["steps"], p["engine"]["eval_every"]
        assert sorted(history.step.unique()) == list(range(0, steps + 1, every))
        assert history.test_acc.between(0, 100).all()
    assert log.lines[0].startswith("analysis part [42, 'lottery']")


def test_training_job_functions_take_a_dtype():
    """Every job function that trains takes `dtype` (keyword-only, None = float32, what the
    pipeline runs): benchmarks/gpu_check.py --dtype float64 trains every job kind in float64."""
    import inspect

    from mnist1d.experiments import (afunc_fit, benchmark, double_descent, metalearn_afunc,
                                     metalearn_lr, pooling, ssl, sweeps)

    functions = [benchmark.train_job, double_descent.train_job, pooling.train_job,
                 ssl.train_job, ssl.variant_job, sweeps.train_job, metalearn_lr.train_job,
                 metalearn_afunc.train_job, afunc_fit.fit_job]
    from mnist1d.experiments import lottery
    functions += [lottery.segment_job, lottery.part_job]
    for function in functions:
        parameter = inspect.signature(function).parameters.get("dtype")
        assert parameter is not None, function.__qualname__
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is None


def test_benchmark_train_job_in_float64(config, datasets):
    import torch

    from mnist1d.experiments import benchmark

    p = benchmark.protocol_from_config(config, "logistic", "normal")
    data = {"dataset": datasets("default")}
    f64 = benchmark.train_job(p, data, dtype=torch.float64)["history"]
    f32 = benchmark.train_job(p, data)["history"]
    assert not f64.equals(f32)          # another computation, and close to float32's
    assert np.allclose(f64.test_loss, f32.test_loss, rtol=1e-4)
