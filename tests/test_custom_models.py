"""A user's own torch.nn.Module named in the config (`models:`): its spec, the checks before any
job, the generic ensemble path (functional_call under vmap) equal to per-seed plain loops, and the
per-seed fallback of a module that path cannot batch."""
import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import resolved_config
from mnist1d import models, specs, train
from mnist1d.experiments import benchmark
from mnist1d.pipeline import checks

METRICS = ["train_loss", "test_loss", "train_acc", "test_acc", "batch_loss"]
RESNET = {"class": "examples.resnet1d:ResNet1D", "kwargs": {"channels": 6, "blocks": 2}}

pytestmark = pytest.mark.usefixtures("one_thread")


class TwoLayer(nn.Module):
    """A small test module: takes input_size from the pipeline, hidden from kwargs."""

    def __init__(self, input_size, hidden=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(input_size, hidden), nn.Tanh(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.net(x)


class WithBatchNorm(nn.Module):
    """Has buffers (running statistics): the generic path falls back to per-seed loops."""

    def __init__(self, input_size):
        super().__init__()
        self.linear = nn.Linear(input_size, 12)
        self.norm = nn.BatchNorm1d(12)
        self.out = nn.Linear(12, 10)

    def forward(self, x):
        return self.out(self.norm(self.linear(x)).relu())


class WrongOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(40, 7)

    def forward(self, x):
        return self.linear(x)


class Unbatchable(nn.Module):
    """Its forward converts a tensor to a Python number, which vmap cannot batch."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(40, 10)

    def forward(self, x):
        return self.linear(x) * float(self.linear.weight.abs().max() > 0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(300, 40)), "y": rng.integers(0, 10, 300),
            "x_test": rng.normal(size=(120, 40)), "y_test": rng.integers(0, 10, 120)}


def spec_of_class(name, kwargs=None):
    return specs.spec_for("mine", {"mine": {"class": f"{__name__}:{name}", "kwargs": kwargs or {}}})


def member(history, seed):
    return history[history.seed == seed].reset_index(drop=True)


def test_spec_for_a_config_entry_is_json_and_passes_the_input_length():
    spec = specs.spec_for("resnet1d", {"resnet1d": RESNET}, input_size=60)
    assert spec == {"name": "module", "label": "resnet1d", "class": RESNET["class"],
                    "kwargs": RESNET["kwargs"], "input_size": 60, "output_size": 10}
    import json
    assert json.loads(json.dumps(spec)) == spec
    net = models.build(spec)
    assert net(torch.zeros(3, 60)).shape == (3, 10)           # input_size reached the class
    assert models.count_parameters(spec) == sum(p.numel() for p in net.parameters())
    assert specs.spec_for("cnn", {"resnet1d": RESNET})["name"] == "cnn"
    with pytest.raises(ValueError, match="'models' section"):
        specs.spec_for("nonet", {"resnet1d": RESNET})


@pytest.mark.parametrize("which", ["resnet", "twolayer"])
def test_generic_ensemble_equals_plain_loops_float64(data, which):
    spec = (specs.spec_for("resnet1d", {"resnet1d": RESNET}) if which == "resnet"
            else spec_of_class("TwoLayer", {"hidden": 8}))
    assert models.ensemble_support(spec) == (True, "")
    protocol = {"steps": 12, "eval_every": 4, "batch_size": 50}
    history, params = train.train(data, spec, protocol, seeds=[0, 1, 2], dtype=torch.float64)
    assert list(history.columns) == specs.HISTORY_COLUMNS
    for seed in (0, 1, 2):
        plain = train.train_plain(data, spec, protocol, seed=seed, dtype=torch.float64)
        np.testing.assert_allclose(member(history, seed)[METRICS], plain[METRICS], rtol=1e-10,
                                   atol=1e-12)
    assert not np.allclose(member(history, 0)["train_loss"], member(history, 1)["train_loss"])
    # per-member inputs (K, B, in) take the same path
    x = torch.as_tensor(data["x"][:5])
    out = models.forward(spec, params, x.expand(3, 5, 40))
    np.testing.assert_allclose(out.numpy(), models.forward(spec, params, x).numpy(), rtol=1e-12)


def test_module_with_buffers_falls_back_to_per_seed_loops_and_says_so(data, caplog):
    spec = spec_of_class("WithBatchNorm")
    ok, why = models.ensemble_support(spec)
    assert not ok and "buffers" in why
    protocol = {"steps": 10, "eval_every": 5, "batch_size": 50}
    logger = logging.getLogger("test_fallback")
    with caplog.at_level(logging.INFO, logger="test_fallback"):
        history, params = train.train(data, spec, protocol, seeds=[3, 4], dtype=torch.float64,
                                      logger=logger)
    assert any("cannot batch" in r.message and "buffers" in r.message for r in caplog.records)
    assert list(history.columns) == specs.HISTORY_COLUMNS and set(history.seed) == {3, 4}
    assert params["linear.weight"].shape == (2, 12, 40)
    for seed in (3, 4):
        plain = train.train_plain(data, spec, protocol, seed=seed, dtype=torch.float64)
        np.testing.assert_allclose(member(history, seed)[METRICS], plain[METRICS], rtol=1e-10)
    assert not np.allclose(member(history, 3)["train_loss"], member(history, 4)["train_loss"])
    # the benchmark job's final test predictions use each member's buffers too: their accuracy
    # is the history's last test accuracy
    predictions = benchmark.test_predictions(spec, params, data, [3, 4])
    for seed in (3, 4):
        p = predictions[predictions.seed == seed]
        assert 100.0 * (p.prediction == p.label).mean() == pytest.approx(
            member(history, seed)["test_acc"].iloc[-1])


def test_a_forward_vmap_cannot_batch_falls_back(data):
    spec = spec_of_class("Unbatchable")
    ok, why = models.ensemble_support(spec)
    assert not ok and "vmap" in why
    history, _ = train.train(data, spec, {"steps": 3, "eval_every": 3}, seeds=[0, 1])
    assert sorted(set(history.step)) == [0, 3] and set(history.seed) == {0, 1}


def config_with(models_section, bench_models=("cnn",), datasets=None):
    return {"models": models_section, "datasets": datasets or {"default": {}},
            "benchmark": {"models": list(bench_models), "variants": {"normal": "default"}}}


@pytest.mark.parametrize("entry, key, message", [
    ({"class": "no_such_package.nets:Net"}, "models.bad.class", "cannot import"),
    ({"class": f"{__name__}:Missing"}, "models.bad.class", "no attribute"),
    ({"class": "no colon"}, "models.bad.class", "import path"),
    ({"class": f"{__name__}:TwoLayer", "kwargs": {"width": 3}}, "models.bad.kwargs", "failed"),
    ({"class": f"{__name__}:WrongOutput"}, "models.bad.class", r"\(2, 7\)"),
    ({"class": "torch.nn:Identity"}, "models.bad.class", r"\(2, 40\)"),
])
def test_check_models_names_the_key(entry, key, message):
    with pytest.raises(ValueError, match=f"'{key}'.*{message}"):
        checks.check_models(config_with({"bad": entry}, ["cnn", "bad"]))


class LongInputsOnly(nn.Module):
    """Fine at 40 points; its pooling leaves nothing of a 10-point input."""

    def __init__(self, input_size=40):
        super().__init__()
        self.linear = nn.Linear(input_size // 20, 10)

    def forward(self, x):
        return self.linear(F.max_pool1d(x.unsqueeze(1), 20).flatten(1))


def test_check_models_checks_every_length_a_sweep_trains_on():
    config = config_with({"short": {"class": f"{__name__}:LongInputsOnly"}})
    checks.check_models(config)                          # the benchmark's 40 points: fine
    defaults = resolved_config()["sweeps"]["defaults"]
    config["sweeps"] = {"defaults": {**defaults, "models": ["cnn", "short"]},
                        "resolution": {"arg": "final_seq_length", "values": [10, 40]}}
    with pytest.raises(ValueError, match="'models.short.class'.*forward of a \\(2, 10\\)"):
        checks.check_models(config)


def test_check_models_accepts_good_entries_and_names_unknown_benchmark_models():
    checks.check_models(config_with({"resnet1d": RESNET}, ["cnn", "resnet1d"],
                                    {"default": {"final_seq_length": 60}}))
    with pytest.raises(ValueError, match="'benchmark.models'.*'resnet2d'"):
        checks.check_models(config_with({"resnet1d": RESNET}, ["cnn", "resnet2d"]))


def test_benchmark_protocol_carries_the_full_spec_and_tables_handle_custom_models():
    config = {"models": {"resnet1d": RESNET}, "compile": False, "datasets": {"default": {}},
              "benchmark": {"models": ["cnn", "resnet1d"], "variants": {"normal": "default"},
                            "seeds": [0, 1], "steps": 10, "eval_every": 5, "lr": 0.01,
                            "batch_size": 100}}
    p = benchmark.protocol_from_config(config, "resnet1d", "normal")
    assert p["spec"]["class"] == RESNET["class"] and p["spec"]["kwargs"] == RESNET["kwargs"]
    config["models"]["resnet1d"] = {**RESNET, "kwargs": {"channels": 8}}
    assert benchmark.protocol_from_config(config, "resnet1d", "normal") != p   # kwargs rerun it
    rows = [{"model": m, "variant": "normal", "seed": s, "step": 10, "train_loss": 1.0,
             "test_loss": 1.0, "train_acc": 50.0, "test_acc": 40.0 + s, "batch_loss": 1.0}
            for m in ("cnn", "resnet1d") for s in (0, 1)]
    import pandas as pd
    summary = benchmark.summarise(pd.DataFrame(rows))
    assert list(summary.model) == ["cnn", "resnet1d"]
    table = benchmark.markdown(summary, config["models"])
    n = models.count_parameters(specs.spec_for("resnet1d", config["models"]))
    assert f"| resnet1d | {n:,} | normal | 40.5 ± 0.7 |" in table
    fig = benchmark.plot_benchmark(pd.DataFrame(rows))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "resnet1d" in labels and "CNN" in labels


def test_schema_checks_the_models_section():
    from pathlib import Path

    import yaml
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    repo = Path(__file__).resolve().parent.parent
    schema = str(repo / "workflow/schemas/config.schema.yaml")
    config = yaml.safe_load(open(repo / "config.yaml"))
    assert config["models"] == {}
    config["models"] = {"resnet1d": RESNET}
    config["benchmark"]["models"] = ["cnn", "resnet1d"]
    validate(config, schema)
    for bad in ({"cnn": RESNET}, {"mine": {"class": "no colon"}}, {"mine": {"kwargs": {}}},
                {"mine": {**RESNET, "kwarg": {}}}, {"my_net!": RESNET}):
        with pytest.raises(WorkflowError):
            validate({**config, "models": bad}, schema)


def test_compiled_generic_step_equals_the_eager_one(data):
    spec = spec_of_class("TwoLayer", {"hidden": 4})
    protocol = {"steps": 6, "eval_every": 3, "batch_size": 50}
    eager, _ = train.train(data, spec, protocol, seeds=[0, 1], dtype=torch.float64)
    compiled, _ = train.train(data, spec, protocol, seeds=[0, 1], dtype=torch.float64, compile=True)
    np.testing.assert_allclose(compiled[METRICS], eager[METRICS], rtol=1e-10, atol=1e-12)
