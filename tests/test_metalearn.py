"""Metalearning: the unrolled inner loops, their meta-gradients, checkpoint/resume."""
import copy
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import yaml
from snakemake.utils import validate

from helpers import REPO, resolved_config
from mnist1d.experiments import afunc_kernels as kernels
from mnist1d.experiments import metalearn_afunc as afunc
from mnist1d.experiments import metalearn_common as common
from mnist1d.experiments import metalearn_lr as lr_exp
from mnist1d import specs
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.utils import ObjectView


@pytest.fixture(scope="module")
def data():
    args = get_dataset_args(as_dict=True) | {"num_samples": 1250}
    return make_dataset(ObjectView(args))


def small_cfg(**kw):
    base = dict(inner_steps=8, loss_last=5, outer_steps=5, test_examples=50, sample_every=2,
                checkpoint_every=2)
    return afunc.AfuncConfig(**(base | kw))


def closed_form_activation_and_slope(z, act_params, scale):
    """The oracle: f(z) and f'(z) of the learned activation in closed form, by plain operations
    (autograd differentiates it as written)."""
    gw1, gb1, gw2, gb2 = act_params
    t = torch.tanh(z.unsqueeze(-1) * gw1[:, 0] + gb1)
    f = F.elu(z) + scale * (t @ gw2[0] + gb2[0])
    # elu'(z) = 1 for z > 0, exp(z) = elu(z) + 1 otherwise
    elu_slope = torch.where(z > 0, torch.ones_like(z), torch.exp(torch.clamp(z, max=0)))
    slope = elu_slope + scale * ((1 - t * t) @ (gw1[:, 0] * gw2[0]))
    return f, slope


def meta_gradient(data, impl, dtype, steps=8, compile_step=True, with_test=False, **kw):
    cfg = small_cfg(implementation=impl, inner_steps=steps, loss_last=steps - 3, test_examples=250,
                    **kw)
    act = tuple(p.to(dtype) for p in afunc.init_act_params(cfg, torch.float64))
    # move g away from its initialisation so every term of f' matters
    act = tuple(p + 0.1 * torch.sin(torch.arange(p.numel(), dtype=dtype)).reshape(p.shape)
                for p in act)
    losses, outer, grads, accs = afunc.afunc_outer_step(act, common.to_tensors(data, "cpu", dtype),
                                                        cfg, 1, "cpu", dtype, with_test=with_test,
                                                        compile_step=compile_step)
    grads = torch.cat([g.flatten() for g in grads]).double()
    return (losses, grads, accs) if with_test else (losses, grads)


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("noise_in_g", [True, False])
@pytest.mark.parametrize("impl", ["fused", "compiled"])
def test_fast_meta_gradient_equals_plain_float64(data, impl, noise_in_g):
    # `compiled` here runs the functions it compiles eagerly (the compile is tested below)
    losses_p, plain = meta_gradient(data, "plain", torch.float64, noise_in_g=noise_in_g)
    losses_f, fast = meta_gradient(data, impl, torch.float64, compile_step=False,
                                   noise_in_g=noise_in_g)
    assert torch.allclose(losses_p, losses_f, rtol=1e-13, atol=0)
    assert rel(fast, plain) < 1e-12


def test_fused_meta_gradient_float32_as_accurate_as_plain(data):
    truth = meta_gradient(data, "plain", torch.float64)[1]
    plain32 = meta_gradient(data, "plain", torch.float32)[1]
    fast32 = meta_gradient(data, "fused", torch.float32)[1]
    assert rel(fast32, plain32) < 2e-6
    # float32 itself is this far from the float64 answer; the fast version is not further
    assert rel(fast32, truth) < 2 * rel(plain32, truth) + 1e-7


def test_compiled_meta_gradient_and_test_accuracy_match_plain(data):
    """The one test that compiles (seconds): the compiled inner steps and test evaluation."""
    truth = meta_gradient(data, "plain", torch.float64)[1]
    _, plain32, accs_plain = meta_gradient(data, "plain", torch.float32, with_test=True)
    losses_c, compiled32, accs_c = meta_gradient(data, "compiled", torch.float32, with_test=True)
    assert rel(compiled32, truth) < 1e-6
    assert rel(compiled32, plain32) < 2e-6           # both are float32 roundings of `truth`
    assert rel(compiled32, truth) < 2 * rel(plain32, truth) + 1e-7
    assert len(accs_c) == len(losses_c) == 8
    # the same table, evaluated in a compiled graph: at most one of 250 examples differs
    assert np.abs(accs_c - accs_plain).max() <= 100 / 250 + 1e-9


def moved_act_params(cfg, dtype=torch.float64):
    act = afunc.init_act_params(cfg, dtype)
    return tuple(p + 0.1 * torch.sin(torch.arange(p.numel(), dtype=dtype)).reshape(p.shape)
                 for p in act)


def test_noise_in_g_equals_g_with_the_noise_as_written(data):
    """noise_in_g: the noise row added after g's tanh units inside g, as the notebook does (one
    row per forward pass, shared by all z), gives the same losses and meta-gradient as the
    implementations' shortcut (a shift of the inner noise row), for plain and fused."""
    cfg = small_cfg(inner_steps=8, loss_last=5, noise_in_g=True)
    act = tuple(p.requires_grad_() for p in moved_act_params(cfg))
    x, y, x_test, y_test = common.to_tensors(data, "cpu", torch.float64)
    seed = afunc.inner_seed(cfg, 1)
    params, noise = afunc.inner_init(cfg, 40, 10, seed, "cpu", torch.float64)
    gnoise = afunc.g_noise(cfg, seed, "cpu", torch.float64)
    assert gnoise.shape == (cfg.inner_steps, 2, cfg.act_hidden)
    step = iter(range(cfg.inner_steps))

    def f_with_noisy_g(z):
        gw1, gb1, gw2, gb2 = act
        hidden = torch.tanh(z.unsqueeze(-1) * gw1[:, 0] + gb1) + gnoise[next(step), 0]
        return F.elu(z) + cfg.act_scale * (hidden @ gw2[0] + gb2[0])

    losses, _ = afunc.inner_run_plain(params, noise, x, y, f_with_noisy_g, cfg)
    ref = torch.autograd.grad(losses[-cfg.loss_last:].mean(), act)
    ref = torch.cat([g.flatten() for g in ref])
    for impl in ("plain", "fused"):
        got_losses, _, grads, _ = afunc.afunc_outer_step(
            act, (x, y, x_test, y_test), afunc.AfuncConfig(**(cfg.__dict__ | {"implementation": impl})),
            1, "cpu", torch.float64, with_test=False)
        torch.testing.assert_close(got_losses, losses.detach(), rtol=1e-12, atol=1e-13)
        assert rel(torch.cat([g.flatten() for g in grads]), ref) < 1e-11
    # and the noise matters: without it the losses differ
    off = afunc.AfuncConfig(**(cfg.__dict__ | {"noise_in_g": False}))
    assert afunc.g_noise(off, seed, "cpu", torch.float64) is None
    other = afunc.afunc_outer_step(act, (x, y, x_test, y_test), off, 1, "cpu", torch.float64,
                                   with_test=False)[0]
    assert not torch.allclose(other, losses.detach())


def test_inner_init_same_repeats_one_inner_run_fresh_draws_new_ones(data):
    data_t = common.to_tensors(data, "cpu", torch.float64)
    for inner_init in ("same", "fresh"):
        cfg = small_cfg(inner_steps=4, loss_last=2, inner_init=inner_init)
        act = moved_act_params(cfg)
        runs = [afunc.afunc_outer_step(act, data_t, cfg, step, "cpu", torch.float64,
                                       with_test=False)[0] for step in (0, 1, 7)]
        same = [torch.equal(runs[0], r) for r in runs[1:]]
        assert same == ([True, True] if inner_init == "same" else [False, False])
    same, fresh = small_cfg(inner_init="same"), small_cfg(inner_init="fresh")
    # step 0 is the same in both; fresh is the per-step seed of earlier versions
    assert afunc.inner_seed(same, 5) == afunc.inner_seed(same, 0) == afunc.inner_seed(fresh, 0)
    assert afunc.inner_seed(fresh, 5) == common.seed_for(0, "afunc-inner", 5)


@pytest.mark.parametrize("key, value", [("inner_init", "new"), ("noise_in_g", "yes")])
def test_bad_afunc_choices_name_the_key(key, value):
    with pytest.raises(ValueError, match=f"metalearn.afunc.{key}.*{value}"):
        small_cfg(**{key: value})


def test_activation_table_exposes_the_published_quantities(data):
    """afunc_activations.csv: mean_outer_objective (learned row) is the mean over every outer
    step of the outer objective (the published 0.94); mean_train_loss the mean of all
    inner_steps losses of the run (the published baselines)."""
    cfg = small_cfg(outer_steps=3)
    result = afunc.metalearn_afunc(data, cfg)
    summary, curves = afunc.afunc_baselines(data, result["act_params"], cfg, names=("relu", "tanh"),
                                            steps=result["steps"])
    table, curves = pd.DataFrame(summary), pd.DataFrame(curves)
    learned = table.set_index("activation").loc["learned"]
    outer = [r["outer_loss"] for r in result["steps"]]
    assert len(outer) == 3 and learned.mean_outer_objective == pytest.approx(np.mean(outer))
    assert table.set_index("activation").loc[["relu", "tanh"], "mean_outer_objective"].isna().all()
    for name, part in curves.groupby("activation"):
        assert len(part) == cfg.inner_steps
        assert table.set_index("activation").loc[name, "mean_train_loss"] == \
            pytest.approx(part.train_loss.mean())


def test_compiled_falls_back_to_fused_without_compile():
    assert afunc.resolve_implementation("compiled", compile=True) == "compiled"
    assert afunc.resolve_implementation("compiled", compile=False) == "fused"
    assert afunc.resolve_implementation("plain", compile=False) == "plain"
    with pytest.raises(ValueError, match="metalearn.afunc.implementation.*magic"):
        afunc.resolve_implementation("magic", compile=True)
    with pytest.raises(ValueError, match="'fast' is not one of plain, fused, compiled"):
        afunc.resolve_implementation("fast", compile=True)


def test_activation_slope_closed_form_matches_autograd():
    cfg = afunc.AfuncConfig()
    act = tuple(p.double() for p in afunc.init_act_params(cfg, torch.float64))
    z = torch.linspace(-6, 6, 1001, dtype=torch.float64, requires_grad=True)
    f = kernels.learned_activation(z, act, cfg.act_scale)
    (slope,) = torch.autograd.grad(f.sum(), z)
    for fn in (closed_form_activation_and_slope, kernels.learned_activation_and_slope_fused,
               kernels.learned_activation_and_slope_traceable):
        f2, slope2 = fn(z.detach().reshape(7, 143), act, cfg.act_scale)
        assert torch.allclose(f2.reshape(-1), f.detach(), atol=1e-14)
        assert torch.allclose(slope2.reshape(-1), slope, atol=1e-12)


def test_hand_written_backwards_match_autograd_float64():
    cfg = afunc.AfuncConfig()
    act = [p.double().requires_grad_() for p in afunc.init_act_params(cfg, torch.float64)]
    z = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, 5, 7, dtype=torch.float64)

    def objective(fn):
        f, s = fn(z, act, cfg.act_scale)
        return (weights[0] * f + weights[1] * s).sum()

    ref = torch.autograd.grad(objective(closed_form_activation_and_slope), [z, *act])
    for fn in (kernels.learned_activation_and_slope_fused,
               kernels.learned_activation_and_slope_traceable):
        got = torch.autograd.grad(objective(fn), [z, *act])
        for a, b in zip(got, ref):
            assert torch.allclose(a, b, rtol=1e-12, atol=1e-14)


def test_lr_meta_gradient_matches_finite_difference(data):
    x, y, _, _ = common.to_tensors(data, "cpu", torch.float64)
    init = common.reference_linear_init((40, 8, 10), 0, torch.float64)

    def objective(lr):
        return lr_exp.lr_inner_losses(lr, tuple(p.clone() for p in init), x, y, 50, 6).mean()

    lr = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(objective(lr), lr)
    h = 1e-6
    with torch.enable_grad():
        fd = (objective(torch.tensor(0.5 + h, dtype=torch.float64)).item()
              - objective(torch.tensor(0.5 - h, dtype=torch.float64)).item()) / (2 * h)
    assert math.isclose(grad.item(), fd, rel_tol=1e-6)


def test_lr_trial_moves_towards_lower_objective(data):
    rows = lr_exp.metalearn_lr(data, 1.5, hidden=10, inner_steps=10, outer_steps=3)
    assert [r["outer_step"] for r in rows] == [0, 1, 2]
    assert all(r["lr_next"] == pytest.approx(r["lr"] - 0.3 * r["meta_grad"], rel=1e-6)
               for r in rows)


def test_reference_init_is_nn_linear_and_keeps_global_rng():
    state = torch.random.get_rng_state()
    params = common.reference_linear_init((40, 50, 10), 0)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(0)
    a, b = torch.nn.Linear(40, 50), torch.nn.Linear(50, 10)
    for p, q in zip(params, (a.weight, a.bias, b.weight, b.bias)):
        assert torch.equal(p, q.detach())


def test_activation_table_matches_exact_evaluation():
    cfg = afunc.AfuncConfig()
    act = afunc.init_act_params(cfg)
    table = kernels.ActivationTable(act, cfg.act_scale)
    z = torch.cat([torch.randn(20000) * 4, torch.tensor([-40.0, 0.0, 35.0])])
    exact = kernels.learned_activation(z.double(), tuple(p.double() for p in act), cfg.act_scale)
    f32 = kernels.learned_activation(z, act, cfg.act_scale).double()
    error = ((table(z).double() - exact).abs() / exact.abs().clamp_min(1)).max()
    assert error < 1e-6
    # no less accurate than evaluating f exactly in float32
    assert error < 1.5 * ((f32 - exact).abs() / exact.abs().clamp_min(1)).max()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_activation_table_on_the_parameters_device_equals_the_cpu_table(dtype):
    """The table is built where the parameters live; on the CPU that is bit for bit the table
    built as before (on the CPU, then moved), in float32 and float64 parameters."""
    cfg = afunc.AfuncConfig()
    act = moved_act_params(cfg, dtype)
    grid = torch.linspace(-30.0, 30.0, 60001, dtype=torch.float64)
    p64 = tuple(p.detach().to(torch.float64).cpu() for p in act)
    before = torch.cat([kernels.learned_activation(c, p64, cfg.act_scale)
                        for c in grid.split(20000)])
    table = kernels.ActivationTable(act, cfg.act_scale)
    assert table.values.dtype == torch.float64 and torch.equal(table.values, before)
    # on another device it is computed there: no CPU copy (which a meta tensor would refuse)
    meta = kernels.ActivationTable(tuple(p.to("meta") for p in act), cfg.act_scale)
    assert meta.values.device.type == "meta" and meta.values.shape == before.shape


def test_table_test_accuracies_equal_exact(data):
    cfg = small_cfg(inner_steps=20, test_examples=250)
    dt = common.to_tensors(data, "cpu", torch.float32)
    act = afunc.init_act_params(cfg)
    params, noise = afunc.inner_init(cfg, 40, 10, 5, "cpu", torch.float32)
    _, snaps = kernels.inner_run_fast(params, noise, dt[0], dt[1], act, cfg, snapshots=True)
    accs = {}
    for mode in ("table", "exact"):
        cfg.test_eval = mode
        accs[mode] = kernels.test_accuracies(snaps, noise, dt[2][:250], dt[3][:250],
                                             afunc.activation_values("learned", act, cfg))
    assert np.abs(accs["table"] - accs["exact"]).max() <= 100 / 250 + 1e-9  # one example at most


def run_result(result):
    steps = pd.DataFrame(result["steps"]).drop(columns="seconds")
    return steps, pd.DataFrame(result["samples"]), [p.clone() for p in result["act_params"]]


def test_outer_loop_resumes_after_interruption_with_identical_results(data, tmp_path):
    cfg = small_cfg()
    straight = run_result(afunc.metalearn_afunc(data, cfg, checkpoint=tmp_path / "a.pt"))
    ckpt = tmp_path / "b.pt"
    assert afunc.metalearn_afunc(data, cfg, checkpoint=ckpt, stop_after=3) is None  # "killed"
    assert ckpt.exists() and not list(tmp_path.glob("*.tmp"))
    assert torch.load(ckpt, weights_only=False)["next_step"] == 3
    resumed = run_result(afunc.metalearn_afunc(data, cfg, checkpoint=ckpt))
    pd.testing.assert_frame_equal(straight[0], resumed[0])
    pd.testing.assert_frame_equal(straight[1], resumed[1])
    for p, q in zip(straight[2], resumed[2]):
        assert torch.equal(p, q)
    assert len(straight[0]) == cfg.outer_steps
    assert sorted(straight[1].outer_step.unique()) == [0, 2, 4, 5]


def test_checkpoint_is_loaded_onto_the_run_device(data, tmp_path):
    """A checkpoint's tensors are mapped to the device of the resuming run (a GPU run's
    checkpoint resumed on the CPU, or the other way round), not left where they were saved."""
    cfg = small_cfg(outer_steps=2)
    ckpt = tmp_path / "c.pt"
    afunc.metalearn_afunc(data, cfg, checkpoint=ckpt)
    protocol = torch.load(ckpt, weights_only=False)["protocol"]
    state = afunc.load_checkpoint(ckpt, protocol, "meta")
    assert all(p.device.type == "meta" for p in (*state["act_params"], *state["momentum"]))
    on_cpu = afunc.load_checkpoint(ckpt, protocol, torch.device("cpu"))
    assert all(p.device.type == "cpu" for p in on_cpu["act_params"])


def test_checkpoint_of_another_protocol_is_not_resumed(data, tmp_path):
    ckpt = tmp_path / "c.pt"
    afunc.metalearn_afunc(data, small_cfg(outer_steps=2), checkpoint=ckpt)
    other = small_cfg(outer_steps=2, inner_lr=0.02)
    fresh = afunc.metalearn_afunc(data, other)
    again = afunc.metalearn_afunc(data, other, checkpoint=ckpt)
    pd.testing.assert_frame_equal(run_result(fresh)[0], run_result(again)[0])


def test_clipping_and_outer_update(data):
    cfg = small_cfg(outer_steps=1, clip=1e-4, outer_lr=0.5)
    result = afunc.metalearn_afunc(data, cfg)
    init = afunc.init_act_params(cfg)
    moved = torch.cat([(p - q).flatten() for p, q in zip(result["act_params"], init)])
    assert moved.abs().max() <= 0.5 * 1e-4 + 1e-7   # each element moved by at most lr * clip


@pytest.mark.parametrize("preset", ["paper", "quick", "smoke"])
def test_protocols_are_json_and_hold_exactly_the_job_settings(preset):
    config = resolved_config(preset)
    lr = lr_exp.protocol_from_config(config)
    assert json.loads(json.dumps(lr)) == lr
    assert set(lr) == {"start_lrs", "hidden", "batch_size", "inner_steps", "outer_steps",
                       "outer_lr", "seed"}
    act = afunc.protocol_from_config(config)
    assert json.loads(json.dumps(act)) == act
    assert set(act) == set(afunc.AfuncConfig.__dataclass_fields__) | {"baselines"}
    # every other key of the section is one of these, except the rule's input
    assert set(config["metalearn"]["afunc"]) - set(act) == {"dataset"}
    assert act["implementation"] == ("compiled" if specs.compile_for(config, "metalearn")
                                     else "fused")
    assert afunc.AfuncConfig.from_dict(act).implementation == act["implementation"]
    section = config["metalearn"]["afunc"]
    assert afunc.figure_settings(config) == {"sample_range": section["sample_range"],
                                             "inner_init": section["inner_init"]}
    # the paper value of both choices is the reference notebook's
    assert (act["inner_init"], act["noise_in_g"]) == ("same", True)


def changed(config, path, value):
    """A deep copy of `config` with the key at dotted `path` set to `value`."""
    config = copy.deepcopy(config)
    *parents, last = path.split(".")
    section = config
    for key in parents:
        section = section[key]
    section[last] = value
    return config


@pytest.mark.parametrize("path, value", [
    ("benchmark.steps", 7), ("jobs.topics.metalearn.threads", 2), ("compile", False),
    ("metalearn.lr.dataset", "samples10k"), ("metalearn.afunc.dataset", "default")])
def test_protocols_ignore_keys_the_jobs_do_not_compute_with(path, value):
    # with `fused`, the top-level `compile` changes nothing either
    config = changed(resolved_config("paper"), "metalearn.afunc.implementation", "fused")
    other = changed(config, path, value)
    assert lr_exp.protocol_from_config(other) == lr_exp.protocol_from_config(config)
    assert afunc.protocol_from_config(other) == afunc.protocol_from_config(config)


@pytest.mark.parametrize("path, value", [
    ("metalearn.lr.outer_lr", 0.2), ("metalearn.lr.start_lrs", [1.0]),
    ("metalearn.afunc.inner_lr", 0.02), ("metalearn.afunc.baselines", ["relu"]),
    ("metalearn.afunc.sample_range", 4.0),
    # the paper preset's choice for metalearn, flipped: `compiled` <-> `fused`
    ("compile", {"metalearn": not specs.compile_for(resolved_config("paper"), "metalearn")}),
    ("metalearn.afunc.inner_init", "fresh"), ("metalearn.afunc.noise_in_g", False)])
def test_protocols_follow_the_keys_the_jobs_compute_with(path, value):
    config = resolved_config("paper")
    other = changed(config, path, value)
    section = path.split(".")[1] if path.startswith("metalearn.") else "afunc"
    module = {"lr": lr_exp, "afunc": afunc}[section]
    assert module.protocol_from_config(other) != module.protocol_from_config(config)
    # the other experiment's protocol stays
    unrelated = {"lr": afunc, "afunc": lr_exp}[section]
    assert unrelated.protocol_from_config(other) == unrelated.protocol_from_config(config)


def test_lr_trials_run_the_protocol(data):
    protocol = {"start_lrs": [1.5, 0.15], "hidden": 6, "batch_size": 50, "inner_steps": 4,
                "outer_steps": 2, "outer_lr": 0.3, "seed": 0}
    rows = lr_exp.metalearn_lr_trials(data, protocol)
    settings = {k: v for k, v in protocol.items() if k != "start_lrs"}
    expected = (lr_exp.metalearn_lr(data, 1.5, **settings)
                + lr_exp.metalearn_lr(data, 0.15, **settings))
    strip = lambda records: [{k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
                             for r in records]
    assert strip(rows) == strip(expected)


def test_config_section_is_validated():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    schema = str(REPO / "workflow/schemas/config.schema.yaml")
    validate(config, schema)
    bad = yaml.safe_load((REPO / "config.yaml").read_text())
    bad["metalearn"]["afunc"]["implementation"] = "magic"
    with pytest.raises(Exception, match="magic"):
        validate(bad, schema)
    bad = yaml.safe_load((REPO / "config.yaml").read_text())
    bad["metalearn"]["lr"]["outer_lr"] = -1
    with pytest.raises(Exception, match="outer_lr"):
        validate(bad, schema)


def test_baseline_curves_of_the_figure_equal_the_torch_activations():
    """The figure draws the baselines with NumPy (its job starts without torch)."""
    x = np.linspace(-30, 30, 601)
    for name in afunc.BASELINES:
        expected = afunc.baseline_activation(name)(torch.as_tensor(x)).numpy()
        np.testing.assert_allclose(afunc.baseline_curve(name, x), expected,
                                   rtol=1e-12, atol=1e-12, err_msg=name)
