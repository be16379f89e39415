"""Metalearning (SPEC 5, 6): the unrolled inner loops, their meta-gradients, checkpoint/resume."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from snakemake.utils import validate

from conftest import REPO
from mnist1d.experiments import metalearn as ml
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.utils import ObjectView


@pytest.fixture(scope="module")
def data():
    args = get_dataset_args(as_dict=True) | {"num_samples": 1250}
    return make_dataset(ObjectView(args))


def small_cfg(**kw):
    base = dict(inner_steps=8, loss_last=5, outer_steps=5, test_examples=50, sample_every=2,
                checkpoint_every=2)
    return ml.AfuncConfig(**(base | kw))


def meta_gradient(data, impl, dtype, steps=8, compile_step=True, with_test=False):
    cfg = small_cfg(implementation=impl, inner_steps=steps, loss_last=steps - 3, test_examples=250)
    act = tuple(p.to(dtype) for p in ml.init_act_params(cfg, torch.float64))
    # move g away from its initialisation so every term of f' matters
    act = tuple(p + 0.1 * torch.sin(torch.arange(p.numel(), dtype=dtype)).reshape(p.shape)
                for p in act)
    losses, outer, grads, accs = ml.afunc_outer_step(act, ml.to_tensors(data, "cpu", dtype), cfg,
                                                     1, "cpu", dtype, with_test=with_test,
                                                     compile_step=compile_step)
    grads = torch.cat([g.flatten() for g in grads]).double()
    return (losses, grads, accs) if with_test else (losses, grads)


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("impl", ["fast", "fused", "compiled"])
def test_fast_meta_gradient_equals_plain_float64(data, impl):
    # `compiled` here runs the functions it compiles eagerly (the compile is tested below)
    losses_p, plain = meta_gradient(data, "plain", torch.float64)
    losses_f, fast = meta_gradient(data, impl, torch.float64, compile_step=False)
    assert torch.allclose(losses_p, losses_f, rtol=1e-13, atol=0)
    assert rel(fast, plain) < 1e-12


@pytest.mark.parametrize("impl", ["fast", "fused"])
def test_fast_meta_gradient_float32_as_accurate_as_plain(data, impl):
    truth = meta_gradient(data, "plain", torch.float64)[1]
    plain32 = meta_gradient(data, "plain", torch.float32)[1]
    fast32 = meta_gradient(data, impl, torch.float32)[1]
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


def test_compiled_falls_back_to_fused_without_compile():
    assert ml.resolve_implementation("compiled", compile=True) == "compiled"
    assert ml.resolve_implementation("compiled", compile=False) == "fused"
    assert ml.resolve_implementation("plain", compile=False) == "plain"
    with pytest.raises(ValueError, match="metalearn.afunc.implementation.*magic"):
        ml.resolve_implementation("magic", compile=True)


def test_activation_slope_closed_form_matches_autograd():
    cfg = ml.AfuncConfig()
    act = tuple(p.double() for p in ml.init_act_params(cfg, torch.float64))
    z = torch.linspace(-6, 6, 1001, dtype=torch.float64, requires_grad=True)
    f = ml.learned_activation(z, act, cfg.act_scale)
    (slope,) = torch.autograd.grad(f.sum(), z)
    for fn in (ml.learned_activation_and_slope, ml.learned_activation_and_slope_fused,
               ml.learned_activation_and_slope_traceable):
        f2, slope2 = fn(z.detach().reshape(7, 143), act, cfg.act_scale)
        assert torch.allclose(f2.reshape(-1), f.detach(), atol=1e-14)
        assert torch.allclose(slope2.reshape(-1), slope, atol=1e-12)


def test_hand_written_backwards_match_autograd_float64():
    cfg = ml.AfuncConfig()
    act = [p.double().requires_grad_() for p in ml.init_act_params(cfg, torch.float64)]
    z = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, 5, 7, dtype=torch.float64)

    def objective(fn):
        f, s = fn(z, act, cfg.act_scale)
        return (weights[0] * f + weights[1] * s).sum()

    ref = torch.autograd.grad(objective(ml.learned_activation_and_slope), [z, *act])
    for fn in (ml.learned_activation_and_slope_fused, ml.learned_activation_and_slope_traceable):
        got = torch.autograd.grad(objective(fn), [z, *act])
        for a, b in zip(got, ref):
            assert torch.allclose(a, b, rtol=1e-12, atol=1e-14)


def test_lr_meta_gradient_matches_finite_difference(data):
    x, y, _, _ = ml.to_tensors(data, "cpu", torch.float64)
    init = ml.reference_linear_init((40, 8, 10), 0, torch.float64)

    def objective(lr):
        return ml.lr_inner_losses(lr, tuple(p.clone() for p in init), x, y, 50, 6).mean()

    lr = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(objective(lr), lr)
    h = 1e-6
    with torch.enable_grad():
        fd = (objective(torch.tensor(0.5 + h, dtype=torch.float64)).item()
              - objective(torch.tensor(0.5 - h, dtype=torch.float64)).item()) / (2 * h)
    assert math.isclose(grad.item(), fd, rel_tol=1e-6)


def test_lr_trial_moves_towards_lower_objective(data):
    rows = ml.metalearn_lr(data, 1.5, hidden=10, inner_steps=10, outer_steps=3)
    assert [r["outer_step"] for r in rows] == [0, 1, 2]
    assert all(r["lr_next"] == pytest.approx(r["lr"] - 0.3 * r["meta_grad"], rel=1e-6)
               for r in rows)


def test_reference_init_is_nn_linear_and_keeps_global_rng():
    state = torch.random.get_rng_state()
    params = ml.reference_linear_init((40, 50, 10), 0)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(0)
    a, b = torch.nn.Linear(40, 50), torch.nn.Linear(50, 10)
    for p, q in zip(params, (a.weight, a.bias, b.weight, b.bias)):
        assert torch.equal(p, q.detach())


def test_activation_table_matches_exact_evaluation():
    cfg = ml.AfuncConfig()
    act = ml.init_act_params(cfg)
    table = ml.ActivationTable(act, cfg.act_scale)
    z = torch.cat([torch.randn(20000) * 4, torch.tensor([-40.0, 0.0, 35.0])])
    exact = ml.learned_activation(z.double(), tuple(p.double() for p in act), cfg.act_scale)
    f32 = ml.learned_activation(z, act, cfg.act_scale).double()
    error = ((table(z).double() - exact).abs() / exact.abs().clamp_min(1)).max()
    assert error < 1e-6
    # no less accurate than evaluating f exactly in float32
    assert error < 1.5 * ((f32 - exact).abs() / exact.abs().clamp_min(1)).max()


def test_table_test_accuracies_equal_exact(data):
    cfg = small_cfg(inner_steps=20, test_examples=250)
    dt = ml.to_tensors(data, "cpu", torch.float32)
    act = ml.init_act_params(cfg)
    params, noise = ml.inner_init(cfg, 40, 10, 5, "cpu", torch.float32)
    _, snaps = ml.inner_run_fast(params, noise, dt[0], dt[1], act, cfg, snapshots=True)
    accs = {}
    for mode in ("table", "exact"):
        cfg.test_eval = mode
        accs[mode] = ml.test_accuracies(snaps, noise, dt[2][:250], dt[3][:250],
                                        ml.activation_values("learned", act, cfg))
    assert np.abs(accs["table"] - accs["exact"]).max() <= 100 / 250 + 1e-9  # one example at most


def run_result(result):
    steps = pd.DataFrame(result["steps"]).drop(columns="seconds")
    return steps, pd.DataFrame(result["samples"]), [p.clone() for p in result["act_params"]]


def test_outer_loop_resumes_after_interruption_with_identical_results(data, tmp_path):
    cfg = small_cfg()
    straight = run_result(ml.metalearn_afunc(data, cfg, checkpoint=tmp_path / "a.pt"))
    ckpt = tmp_path / "b.pt"
    assert ml.metalearn_afunc(data, cfg, checkpoint=ckpt, stop_after=3) is None  # "killed"
    assert ckpt.exists() and not list(tmp_path.glob("*.tmp"))
    assert torch.load(ckpt, weights_only=False)["next_step"] == 3
    resumed = run_result(ml.metalearn_afunc(data, cfg, checkpoint=ckpt))
    pd.testing.assert_frame_equal(straight[0], resumed[0])
    pd.testing.assert_frame_equal(straight[1], resumed[1])
    for p, q in zip(straight[2], resumed[2]):
        assert torch.equal(p, q)
    assert len(straight[0]) == cfg.outer_steps
    assert sorted(straight[1].outer_step.unique()) == [0, 2, 4, 5]


def test_checkpoint_of_another_protocol_is_not_resumed(data, tmp_path):
    ckpt = tmp_path / "c.pt"
    ml.metalearn_afunc(data, small_cfg(outer_steps=2), checkpoint=ckpt)
    other = small_cfg(outer_steps=2, inner_lr=0.02)
    fresh = ml.metalearn_afunc(data, other)
    again = ml.metalearn_afunc(data, other, checkpoint=ckpt)
    pd.testing.assert_frame_equal(run_result(fresh)[0], run_result(again)[0])


def test_clipping_and_outer_update(data):
    cfg = small_cfg(outer_steps=1, clip=1e-4, outer_lr=0.5)
    result = ml.metalearn_afunc(data, cfg)
    init = ml.init_act_params(cfg)
    moved = torch.cat([(p - q).flatten() for p, q in zip(result["act_params"], init)])
    assert moved.abs().max() <= 0.5 * 1e-4 + 1e-7   # each element moved by at most lr * clip


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


def test_smoke_outputs(smoke_run):
    lr = pd.read_csv(smoke_run / "results/metalearn/lr.csv")
    assert sorted(lr.start_lr.unique()) == [0.15, 1.5]
    assert lr.groupby("start_lr").size().tolist() == [3, 3]
    acts = pd.read_csv(smoke_run / "results/metalearn/afunc_activations.csv")
    assert acts.activation.tolist() == ["learned", *ml.BASELINES]
    assert np.isfinite(acts.mean_train_loss).all()
    steps = pd.read_csv(smoke_run / "results/metalearn/afunc_steps.csv")
    assert steps.outer_step.tolist() == [0, 1, 2]
    assert not (smoke_run / "results/metalearn/checkpoints/afunc.pt").exists()
