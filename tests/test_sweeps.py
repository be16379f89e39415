"""Sweeps of the generator's knobs (mnist1d.experiments.sweeps): settings, checks naming the key,
file names, seed chunks, the job's protocol and what it computes, the table and the figure."""
import copy
import re

import jsonschema
import pytest

from helpers import REPO, resolved_config
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.experiments import sweeps
from mnist1d.pipeline.config import describe_validation_error, resolve
from mnist1d.utils import ObjectView

PRESETS_DIR = REPO / "workflow" / "presets"


def schema_message(cfg):
    """The pipeline's one-line message for the first schema error of `cfg` (None when valid)."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate
    try:
        validate(copy.deepcopy(cfg), str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    except WorkflowError as e:
        assert isinstance(e.__context__, jsonschema.ValidationError), e
        return describe_validation_error(e.__context__)
    return None


@pytest.mark.parametrize("preset", ["paper", "quick", "smoke"])
def test_shipped_sweeps_are_valid_and_cover_the_generator_knobs(preset):
    cfg = resolved_config(preset)
    assert schema_message(cfg) is None
    sweeps.check(cfg)
    args = {sweeps.settings(cfg, n)["arg"] for n in sweeps.names(cfg)}
    assert {"corr_noise_scale", "max_translation", "final_seq_length", "num_samples"} <= args
    assert args & {"iid_noise_scale", "shear_scale", "scale_coeff"}
    for name in sweeps.names(cfg):
        s = sweeps.settings(cfg, name)
        assert set(s["models"]) >= {"logistic", "mlp", "cnn", "gru"}
        if preset == "paper":
            assert len(s["seeds"]) >= 3


@pytest.mark.parametrize("spoil, key", [
    (lambda s: s["noise"].update(arg="padding"), "sweeps.noise.arg"),
    (lambda s: s["noise"].update(values=[0.1, "a lot"]), "sweeps.noise.values.1"),
    (lambda s: s["noise"].update(values=[]), "sweeps.noise.values"),
    (lambda s: s["defaults"].update(seeds_per_job=0), "sweeps.defaults.seeds_per_job"),
    (lambda s: s["samples"].update(steps=0), "sweeps.samples.steps"),
    (lambda s: s["noise"].update(stepz=10), "sweeps.noise"),
    (lambda s: s["noise"].pop("arg"), "sweeps.noise"),
    (lambda s: s["noise"].update(base={"shufle_seq": True}), "sweeps.noise.base"),
    (lambda s: s.update({"bad name": {"arg": "seed", "values": [1]}}), "sweeps"),
])
def test_schema_errors_name_the_key(spoil, key):
    cfg = resolved_config()
    spoil(cfg["sweeps"])
    message = schema_message(cfg)
    assert message is not None and f"config key '{key}'" in message, message


@pytest.mark.parametrize("spoil, key", [
    (lambda s: s["translation"].update(values=[0, 12]), "sweeps.translation.values[0]"),
    (lambda s: s["resolution"].update(values=[20, 40.5]), "sweeps.resolution.values[1]"),
    (lambda s: s["noise"].update(values=[0.5, 0.50000]), "sweeps.noise.values"),
    (lambda s: s["noise"].update(values=[-0.1]), "sweeps.noise.values[0]"),
    (lambda s: s["noise"].update(base={"corr_noise_scale": 0.1}), "sweeps.noise.base"),
    (lambda s: s["noise"].update(models=["mlp", "transformer"]), "sweeps.noise.models"),
    (lambda s: s.update(tr={"arg": "train_split", "values": [0.5, 1.0]}), "sweeps.tr.values[1]"),
])
def test_values_the_generator_cannot_use_name_the_key(spoil, key):
    cfg = resolved_config()
    spoil(cfg["sweeps"])
    with pytest.raises(ValueError, match=re.escape(f"config key '{key}'")):
        sweeps.check(cfg)


def test_settings_merge_defaults_and_base():
    cfg = resolved_config()
    cfg["sweeps"]["defaults"]["base"] = {"seed": 7, "num_samples": 1000}
    cfg["sweeps"]["noise"].update(base={"seed": 8}, steps=11)
    s = sweeps.settings(cfg, "noise")
    assert s["base"] == {"seed": 8, "num_samples": 1000} and s["steps"] == 11
    assert sweeps.settings(cfg, "translation")["steps"] == cfg["sweeps"]["defaults"]["steps"]
    assert sweeps.dataset_args(cfg, "noise", "0.5") == {"seed": 8, "num_samples": 1000,
                                                          "corr_noise_scale": 0.5}
    with pytest.raises(ValueError, match="defaults"):
        sweeps.settings(cfg, "defaults")


def test_value_texts_are_canonical_and_map_back():
    assert sweeps.canonical("corr_noise_scale", 0.5) == sweeps.canonical("corr_noise_scale", 5e-1) == "0.5"
    assert sweeps.canonical("corr_noise_scale", 1) == "1.0"
    assert sweeps.canonical("iid_noise_scale", 1e-5) == "1e-05"
    assert sweeps.canonical("final_seq_length", 80.0) == "80"
    cfg = resolved_config()
    assert sweeps.value_texts(cfg, "translation") == ["1", "12", "24", "48", "72"]
    assert sweeps.value_of(cfg, "noise", "0.25") == 0.25
    with pytest.raises(ValueError, match="not one of its values"):
        sweeps.value_of(cfg, "noise", "0.3")

    pattern = re.compile(f"^(?:{sweeps.wildcard_pattern(['1.0', '10', '1e-05'])})$")
    assert pattern.match("1e-05") and pattern.match("10") and not pattern.match("1x0")


def test_seeds_per_job_cuts_the_seeds_into_jobs():
    cfg = resolved_config()
    cfg["sweeps"]["defaults"].update(seeds=list(range(5)), seeds_per_job=2)
    # the tags of mnist1d.experiments.seed_chunks
    assert sweeps.chunks(cfg, "noise") == ["_seeds0-1", "_seeds2-3", "_seed4"]
    assert [sweeps.protocol_from_config(cfg, "noise", "0.5", c)["seeds"]
            for c in sweeps.chunks(cfg, "noise")] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="no chunk"):
        sweeps.protocol_from_config(cfg, "noise", "0.5", "_seeds4-5")
    cfg["sweeps"]["defaults"]["seeds_per_job"] = None           # every seed in one job
    assert sweeps.chunks(cfg, "noise") == [""]
    assert schema_message(cfg) is None                           # allowed, as for the benchmark
    sweeps.check(cfg)


def test_protocol_takes_the_input_size_from_the_swept_length():
    cfg = resolved_config()
    p = sweeps.protocol_from_config(cfg, "resolution", "80", sweeps.chunks(cfg, "resolution")[0])
    assert {m: s["input_size"] for m, s in p["models"].items()} == \
        {"logistic": 80, "mlp": 80, "cnn": 80, "gru": 80}
    assert p["engine"]["steps"] == cfg["sweeps"]["defaults"]["steps"]
    assert p["compile"] is False and p["value"] == 80
    other = sweeps.protocol_from_config(cfg, "noise", "0.5", sweeps.chunks(cfg, "noise")[0])
    assert all(s["input_size"] == 40 for s in other["models"].values())
    # a change to another sweep leaves this job's protocol as it was (no rerun)
    cfg2 = copy.deepcopy(cfg)
    cfg2["sweeps"]["noise"]["values"].append(3.0)
    assert sweeps.protocol_from_config(cfg2, "resolution", "80", sweeps.chunks(cfg2, "resolution")[0]) == p


def small_dataset(length):
    args = get_dataset_args(as_dict=True) | {"num_samples": 300, "final_seq_length": length}
    return make_dataset(ObjectView(args))


def test_a_job_trains_every_model_at_another_length_and_the_table_and_figure_follow(one_thread):
    cfg = resolved_config("smoke")
    cfg["sweeps"]["defaults"].update(steps=5, eval_every=5, seeds=[0, 1], seeds_per_job=2)
    frames = []
    for text in ("20", "40"):
        p = sweeps.protocol_from_config(cfg, "resolution", text, sweeps.chunks(cfg, "resolution")[0])
        data = small_dataset(int(text))
        frame = sweeps.train_job(p, {"dataset": data})["finals"]
        assert list(frame.columns) == sweeps.COLUMNS
        assert len(frame) == 4 * 2 and set(frame["steps"]) == {5}
        assert frame["test_acc"].between(0, 100).all() and (frame["train_loss"] > 0).all()
        frames.append(frame)
    df = sweeps.table(frames[::-1], ["logistic", "mlp", "cnn", "gru"])
    assert list(df["value"]) == [20] * 8 + [40] * 8
    assert list(df["model"][:8]) == ["logistic"] * 2 + ["mlp"] * 2 + ["cnn"] * 2 + ["gru"] * 2
    gaps = sweeps.gaps(df)
    assert list(gaps.columns) == [label for _, _, label in sweeps.GAPS]
    means = df.groupby(["value", "model"])["test_acc"].mean()
    assert gaps.loc[20].iloc[1] == pytest.approx(means[20, "cnn"] - means[20, "mlp"])
    md = sweeps.markdown(df)
    assert "| final_seq_length |" in md and md.count("\n| 20 |") == 1
    fig = sweeps.plot_sweep(df, default=40)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) >= 4


def test_a_dataset_of_the_wrong_length_is_refused(one_thread):
    cfg = resolved_config("smoke")
    p = sweeps.protocol_from_config(cfg, "resolution", "40", sweeps.chunks(cfg, "resolution")[0])
    with pytest.raises(ValueError, match="length 40, the dataset has 20"):
        sweeps.train_job(p, {"dataset": small_dataset(20)})


@pytest.mark.parametrize("length", [10, 80])
@pytest.mark.parametrize("name", ["logistic", "mlp", "cnn", "gru"])
def test_every_builtin_model_takes_the_swept_input_length(name, length):
    import torch
    from mnist1d import models, specs
    spec = specs.spec_for(name, {}, input_size=length)
    params = models.init_params(spec, [0, 1])
    x = torch.randn(3, length)
    out = models.forward(spec, params, x)
    assert out.shape == (2, 3, 10)
    torch.manual_seed(1)
    plain = models.build(spec)
    with torch.no_grad():
        assert torch.allclose(out[1], plain(x), atol=1e-5)


def test_command_line_overrides_of_a_sweep_are_typed():
    """`--config sweeps='{defaults: {steps: 100}, noise: {values: [0, 0.5]}}'` arrives as text."""
    from snakemake.cli import parse_config
    from snakemake.utils import update_config
    command_line = parse_config(["sweeps={defaults: {steps: 100, seeds_per_job: 1}, "
                                 "noise: {values: [0, 0.5]}}"])
    cfg = resolved_config()
    update_config(cfg, command_line)
    resolved = resolve(cfg, command_line, PRESETS_DIR)
    assert schema_message(resolved) is None
    s = sweeps.settings(resolved, "noise")
    assert s["steps"] == 100 and s["seeds_per_job"] == 1 and s["values"] == [0, 0.5]
    assert sweeps.value_texts(resolved, "noise") == ["0.0", "0.5"]
    assert sweeps.settings(resolved, "translation")["values"] == [1, 12, 24, 48, 72]


def test_tick_labels_leave_out_a_value_too_close_to_the_previous_one():
    assert sweeps.tick_labels([0, 0.02, 0.1, 0.2, 0.4]) == ["0", "", "0.1", "0.2", "0.4"]
    assert sweeps.tick_labels([10, 20, 40, 60, 80]) == ["10", "20", "40", "60", "80"]
    assert sweeps.tick_labels([1250, 2500, 5000, 10000, 20000], log_x=True) == \
        ["1250", "2500", "5000", "10000", "20000"]
