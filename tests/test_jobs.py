"""The job functions (mnist1d.experiments: one per job kind), each run on the CPU with its smoke
protocol as the rule passes it: the outputs the rule writes, their columns and shapes; and
mnist1d.pipeline.script.write_outputs, which writes them."""
import logging

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


def test_training_job_functions_take_a_dtype():
    """Every job function that trains takes `dtype` (keyword-only, None = float32, what the
    pipeline runs): benchmarks/gpu_check.py --dtype float64 trains every job kind in float64."""
    import inspect

    from mnist1d.experiments import (afunc_fit, benchmark, double_descent, metalearn_afunc,
                                     metalearn_lr, pooling, ssl, sweeps)

    functions = [benchmark.train_job, double_descent.train_job, pooling.train_job,
                 ssl.train_job, ssl.variant_job, sweeps.train_job, metalearn_lr.train_job,
                 metalearn_afunc.train_job, afunc_fit.fit_job]
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
