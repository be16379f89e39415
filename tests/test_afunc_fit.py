"""The piecewise-linear fit of the metalearned activation (the notebook's approximation)."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import resolved_config
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.experiments import afunc_fit
from mnist1d.experiments import metalearn_afunc as afunc
from mnist1d.experiments.metalearn_common import to_tensors
from mnist1d.utils import ObjectView

KNOTS = afunc_fit.NOTEBOOK_KNOTS


@pytest.fixture(scope="module")
def data():
    args = get_dataset_args(as_dict=True) | {"num_samples": 1250}
    return make_dataset(ObjectView(args))


def test_fit_recovers_a_piecewise_linear_function():
    slopes, intercepts = [0.15, -0.25, -1.2, -0.5, 0.2, 1.2], [0.9, 0.1, -0.85, -0.75, -0.85, -1.4]
    true = afunc_fit.PiecewiseLinear(KNOTS, slopes, intercepts)   # the notebook's hand-made fit
    x = np.linspace(-5, 5, 100)
    fit = afunc_fit.fit_piecewise_linear(x, true(x), KNOTS)
    np.testing.assert_allclose(fit.slopes, slopes, atol=1e-9)
    np.testing.assert_allclose(fit.intercepts, intercepts, atol=1e-9)
    # a continuous one is recovered by the continuous fit too, and the pieces meet at the knots
    cont = afunc_fit.PiecewiseLinear(KNOTS, [0.1, 0.3, -1.0, 0.5, 2.0, 1.0],
                                     [0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    b = [0.0]
    for k, (a1, a2) in zip(KNOTS, zip(cont.slopes, cont.slopes[1:])):
        b.append(b[-1] + (a1 - a2) * k)
    cont = afunc_fit.PiecewiseLinear(KNOTS, cont.slopes, b)
    y = cont(x)
    both = afunc_fit.fit_piecewise_linear(x, y, KNOTS, continuous=True)
    np.testing.assert_allclose(both(x), y, atol=1e-9)
    k = np.asarray(KNOTS)
    np.testing.assert_allclose(both.slopes[:-1] * k + both.intercepts[:-1],
                               both.slopes[1:] * k + both.intercepts[1:], atol=1e-9)


def test_fit_of_a_curve_is_least_squares_per_piece():
    x = np.linspace(-5, 5, 100)
    y = np.tanh(x) + 0.1 * x ** 2
    fit = afunc_fit.fit_piecewise_linear(x, y, [0.0])
    left = x < 0
    np.testing.assert_allclose([fit.slopes[0], fit.intercepts[0]], np.polyfit(x[left], y[left], 1))
    assert np.sqrt(np.mean((fit(x) - y) ** 2)) < 0.5
    with pytest.raises(ValueError, match="metalearn.afunc_fit.knots"):
        afunc_fit.fit_piecewise_linear(x, y, [0.0, 0.05])        # a piece with no sample


def test_torch_and_numpy_evaluation_agree_and_differentiate():
    f = afunc_fit.PiecewiseLinear(KNOTS, [1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5])
    z = torch.linspace(-4, 4, 33, dtype=torch.float64, requires_grad=True)
    out = f(z)
    np.testing.assert_allclose(out.detach().numpy(), f(z.detach().numpy()))
    out.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), f.slopes[np.searchsorted(KNOTS, z.detach().numpy(),
                                                                        side="right")])
    assert f(torch.zeros(2, 3, 4)).shape == (2, 3, 4)


class _ConvertingEachCall:
    """PiecewiseLinear's tensor evaluation as it was written before the coefficients were kept
    per dtype and device: converted from the arrays at every call (the reference)."""

    def __init__(self, fit):
        self.fit = fit

    def __call__(self, z):
        knots = torch.as_tensor(self.fit.knots, dtype=z.dtype, device=z.device)
        i = torch.bucketize(z, knots, right=True)
        a = torch.as_tensor(self.fit.slopes, dtype=z.dtype, device=z.device)[i]
        b = torch.as_tensor(self.fit.intercepts, dtype=z.dtype, device=z.device)[i]
        return a * z + b


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kept_coefficients_train_bit_for_bit_as_converting_each_call(data, dtype):
    cfg = afunc.AfuncConfig(inner_steps=12, loss_last=5, test_examples=100)
    fit = afunc_fit.PiecewiseLinear(KNOTS, [0.15, -0.25, -1.2, -0.5, 0.2, 1.2],
                                    [0.9, 0.1, -0.85, -0.75, -0.85, -1.4])
    losses, accs = afunc_fit.evaluate_function(fit, data, cfg, dtype=dtype)
    ref_losses, ref_accs = afunc_fit.evaluate_function(_ConvertingEachCall(fit), data, cfg,
                                                       dtype=dtype)
    np.testing.assert_array_equal(losses, ref_losses)
    np.testing.assert_array_equal(accs, ref_accs)
    assert list(fit._tensors) == [(dtype, torch.device("cpu"))]      # converted once


def test_coefficients_are_kept_on_the_device_of_the_input():
    fit = afunc_fit.PiecewiseLinear(KNOTS, [1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5])
    z = torch.zeros(3, 4, device="meta")     # shapes and devices only: a CPU copy would raise
    out = fit(z)
    assert out.device.type == "meta" and out.shape == (3, 4)
    assert all(t.device.type == "meta" and t.dtype == torch.float32
               for t in fit.tensors(torch.float32, "meta"))
    assert fit(torch.zeros(2, dtype=torch.float64)).dtype == torch.float64   # one per dtype too


def test_fitted_run_shares_the_baselines_init_and_noise(data):
    cfg = afunc.AfuncConfig(inner_steps=8, loss_last=5, test_examples=50)
    losses, accs = afunc_fit.evaluate_function(torch.relu, data, cfg)
    ref_losses, ref_accs = afunc.evaluate_activation("relu", None, to_tensors(data, "cpu",
                                                                               torch.float32),
                                                     cfg, "cpu", torch.float32)
    np.testing.assert_array_equal(losses, ref_losses)
    np.testing.assert_array_equal(accs, ref_accs)


def test_fit_job_table(data):
    cfg = afunc.AfuncConfig(inner_steps=8, loss_last=5, test_examples=50)
    x = np.linspace(-5, 5, 100)
    relu_like = afunc_fit.PiecewiseLinear([0.0], [0.0, 1.0], [0.0, 0.0])
    function = pd.DataFrame({"outer_step": np.repeat([0, 7], 100), "x": np.tile(x, 2),
                             "y": np.concatenate([np.zeros(100), np.maximum(x, 0)])})
    activations = pd.DataFrame([{"activation": "learned", "mean_train_loss": 1.0,
                                 "final_test_acc": 50.0}])
    protocol = {"afunc": afunc.protocol_from_config(resolved_config()) | cfg.protocol(), "knots": [0.0],
                "continuous": False}
    out = afunc_fit.fit_job(protocol, {"function": function, "activations": activations,
                                       "dataset": data})
    table, pieces, samples, curves = (out[k] for k in ("table", "pieces", "samples", "curves"))
    assert list(table.activation) == ["fitted", "learned"]
    fitted = table.iloc[0]
    assert fitted.outer_step == 7 and fitted.fit_rms < 1e-9       # the last sample is used
    relu_losses, relu_accs = afunc_fit.evaluate_function(torch.relu, data, cfg)
    assert fitted.mean_train_loss == pytest.approx(float(relu_losses.mean()), rel=1e-6)
    assert fitted.final_test_acc == pytest.approx(relu_accs[-1])
    assert len(pieces) == 2 and len(samples) == 100 and len(curves) == 8
    np.testing.assert_allclose(samples.fitted, relu_like(x), atol=1e-9)


@pytest.mark.parametrize("preset", ["paper", "quick", "smoke"])
def test_protocol_from_config(preset):
    config = resolved_config(preset)
    p = afunc_fit.protocol_from_config(config)
    assert json.loads(json.dumps(p)) == p
    assert p["afunc"] == afunc.protocol_from_config(config)
    assert p["knots"] == list(KNOTS) and p["continuous"] is False
    config["metalearn"]["afunc_fit"]["knots"] = [1.0, 0.0]
    with pytest.raises(ValueError, match="metalearn.afunc_fit.knots"):
        afunc_fit.protocol_from_config(config)
