"""The fast kernels of the activation experiment: f, its inner step, its test accuracy.

The learned activation f(z) = elu(z) + scale * g(z) and the implementations of the
differentiable inner step that are faster than autograd's double backward (`plain`, in
metalearn_afunc):

* ``fused``: the inner gradient written out by hand (softmax cross-entropy, two linear layers,
  the activation's derivative f' in closed form), so the meta-gradient is a single backward
  pass through ordinary operations; f and f' come from _LearnedActivationWithSlope, whose
  backward is written out and fused by hand;
* ``compiled``: the same hand-written step with f, f' and their backward in element-wise
  operations and sums that torch.compile fuses (_LearnedActivationWithSlopeTraceable), each
  inner step one compiled graph (forward and backward, by AOTAutograd), and the per-step test
  accuracy one compiled graph per step. Nothing of the activation's (batch x hidden x
  act_hidden) intermediate is kept between the forward and the backward: it is recomputed,
  which is cheaper than storing it.

Both give plain's meta-gradient up to float32 rounding (tests/test_metalearn.py). Also here:
the test accuracy after every inner step, and ActivationTable, f tabulated for evaluating it.
"""
from __future__ import annotations

from mnist1d._extras import require
require("torch", extra="torch", by=__name__)

import functools

import numpy as np
import torch
import torch.nn.functional as F

from mnist1d.experiments.metalearn_common import batch_slices


def learned_activation(z, act_params, scale):
    """f(z) = elu(z) + scale * g(z), g(z) = w2 . tanh(w1 z + b1) + b2, element-wise."""
    gw1, gb1, gw2, gb2 = act_params
    t = torch.tanh(z.unsqueeze(-1) * gw1[:, 0] + gb1)
    return F.elu(z) + scale * (t @ gw2[0] + gb2[0])


class _LearnedActivationWithSlope(torch.autograd.Function):
    """(f(z), f'(z)) of the learned activation with a hand-written, fused backward.

    u = z w1^T + b1 (N x K, K = act_hidden), t = tanh(u), a = w1 * w2,
    f = elu(z) + c (t . w2 + b2),  f' = elu'(z) + c ((1 - t^2) . a).
    Given the gradients F (of f) and S (of f'):
    dL/dt = c F w2 - 2 c S a t,  dL/du = dL/dt (1 - t^2),
    dz = dL/du . w1 + F elu'(z) + S elu''(z),  dw1 = z^T dL/du + c (S . (1 - t^2)) w2,
    db1 = sum dL/du,  dw2 = c F^T t + c (S . (1 - t^2)) w1,  db2 = c sum F.
    Only z and t are kept for the backward. The backward itself is not differentiable (the
    meta-gradient needs only one backward pass through the unrolled loop).
    """

    @staticmethod
    def forward(ctx, z, gw1, gb1, gw2, gb2, scale):
        shape = z.shape
        zf = z.reshape(-1, 1)
        w1, w2 = gw1[:, 0], gw2[0]
        # tanh(u) = 2 sigmoid(2u) - 1: the same function, within 2e-7 of torch.tanh in float32
        # and about five times faster on the CPU (torch.tanh is the step's costliest kernel)
        t = torch.addmm(gb1, zf, gw1.T).mul_(2).sigmoid_().mul_(2).sub_(1)
        a = w1 * w2
        g = torch.mv(t, w2)
        gslope = torch.mv(torch.addcmul(torch.ones_like(t), t, t, value=-1), a)   # (1 - t^2) . a
        zv = zf[:, 0]
        elu = F.elu(zv)
        elu_slope = torch.where(zv > 0, torch.ones_like(zv), elu + 1)
        f = elu + scale * (g + gb2[0])
        slope = elu_slope + scale * gslope
        ctx.save_for_backward(zv, t, gw1, gw2)
        ctx.scale, ctx.shape = scale, shape
        return f.reshape(shape), slope.reshape(shape)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_f, grad_slope):
        zv, t, gw1, gw2 = ctx.saved_tensors
        c = ctx.scale
        w1, w2 = gw1[:, 0], gw2[0]
        a = w1 * w2
        fgrad = grad_f.reshape(-1)
        sgrad = grad_slope.reshape(-1)
        s = torch.addcmul(torch.ones_like(t), t, t, value=-1)       # 1 - t^2
        # dL/du = (c F w2 - 2 c S a t) (1 - t^2)
        du = torch.outer(sgrad, (-2 * c) * a).mul_(t)
        du.add_(torch.outer(fgrad, c * w2))
        du.mul_(s)
        s_dot = torch.mv(s.T, sgrad)                                  # sum_n S_n (1 - t_nk^2)
        neg = zv <= 0
        exp_z = torch.exp(torch.clamp(zv, max=0))
        dz = torch.mv(du, w1) + fgrad * torch.where(neg, exp_z, torch.ones_like(zv)) \
            + sgrad * torch.where(neg, exp_z, torch.zeros_like(zv))
        dw1 = (torch.mv(du.T, zv) + c * s_dot * w2).unsqueeze(1)
        db1 = du.sum(0)
        dw2 = (c * torch.mv(t.T, fgrad) + c * s_dot * w1).unsqueeze(0)
        db2 = (c * fgrad.sum()).reshape(1)
        return dz.reshape(ctx.shape), dw1, db1, dw2, db2, None


def learned_activation_and_slope_fused(z, act_params, scale):
    """f(z) and f'(z) of the learned activation, with the fused hand-written backward."""
    return _LearnedActivationWithSlope.apply(z, *act_params, scale)


def _tanh_of_affine(zf, gw1, gb1):
    """tanh(z w1 + b1) for a flat z: (N,) -> (N, K), as 2 sigmoid(2u) - 1 (cheaper than tanh)."""
    return 2 * torch.sigmoid(2 * (zf.unsqueeze(-1) * gw1[:, 0] + gb1)) - 1


class _LearnedActivationWithSlopeTraceable(torch.autograd.Function):
    """(f(z), f'(z)) and the backward of _LearnedActivationWithSlope, written for torch.compile.

    The same function and gradient, arranged so that inductor makes one loop over the (N x K)
    intermediate in the forward and two in the backward, and nothing of size N x K is kept from
    the forward for the backward. With u = z w1^T + b1, t = tanh(u), s = 1 - t^2, a = w1 * w2
    and the incoming gradients F (of f) and S (of f'):
      forward, sums over k:   f = elu(z) + c (sum t w2 + b2),  f' = elu'(z) + c r1,
                              r1 = sum s a,  r2 = sum t s a w1  (kept: N values each);
      backward, dz = c F r1 - 2 c S r2 + F elu'(z) + S elu''(z), and sums over n (t recomputed):
      db1 = c w2 sum F s - 2 c a sum S t s,  dw1 = c w2 sum F z s - 2 c a sum S z t s + c w2 sum S s,
      dw2 = c sum F t + c w1 sum S s,  db2 = c sum F,
    which is dL/du = (c F w2 - 2 c S a t) s summed against z, 1 and w1, written out. All
    element-wise operations and sums (no matrix products, nothing in place); the backward is
    itself differentiable. Eager it is correct but slower than `fused`.
    """

    @staticmethod
    def forward(z, gw1, gb1, gw2, gb2, scale):
        zf = z.reshape(-1)
        w1, w2 = gw1[:, 0], gw2[0]
        a = w1 * w2
        t = _tanh_of_affine(zf, gw1, gb1)
        s = 1 - t * t
        r1 = (s * a).sum(-1)
        r2 = (t * s * (a * w1)).sum(-1)
        f = F.elu(zf) + scale * ((t * w2).sum(-1) + gb2[0])
        elu_slope = torch.where(zf > 0, torch.ones_like(zf), torch.exp(torch.clamp(zf, max=0)))
        slope = elu_slope + scale * r1
        return f.reshape(z.shape), slope.reshape(z.shape), r1, r2

    @staticmethod
    def setup_context(ctx, inputs, output):
        z, gw1, gb1, gw2, gb2, scale = inputs
        _, _, r1, r2 = output
        ctx.mark_non_differentiable(r1, r2)
        ctx.save_for_backward(z, gw1, gb1, gw2, r1, r2)
        ctx.scale = scale

    @staticmethod
    def backward(ctx, grad_f, grad_slope, _grad_r1, _grad_r2):
        z, gw1, gb1, gw2, r1, r2 = ctx.saved_tensors
        c = ctx.scale
        zf, fgrad, sgrad = z.reshape(-1), grad_f.reshape(-1), grad_slope.reshape(-1)
        w1, w2 = gw1[:, 0], gw2[0]
        a = w1 * w2
        t = _tanh_of_affine(zf, gw1, gb1)
        s = 1 - t * t
        ts = t * s
        neg = zf <= 0
        exp_z = torch.exp(torch.clamp(zf, max=0))
        dz = (c * fgrad * r1 - (2 * c) * sgrad * r2
              + fgrad * torch.where(neg, exp_z, torch.ones_like(zf))
              + sgrad * torch.where(neg, exp_z, torch.zeros_like(zf)))
        fcol, scol, zcol = fgrad.unsqueeze(-1), sgrad.unsqueeze(-1), zf.unsqueeze(-1)
        f_s, s_ts = (fcol * s).sum(0), (scol * ts).sum(0)
        fz_s, sz_ts = (fcol * zcol * s).sum(0), (scol * zcol * ts).sum(0)
        f_t, s_s = (fcol * t).sum(0), (scol * s).sum(0)
        db1 = c * w2 * f_s - (2 * c) * a * s_ts
        dw1 = (c * w2 * fz_s - (2 * c) * a * sz_ts + c * s_s * w2).unsqueeze(1)
        dw2 = (c * f_t + c * s_s * w1).unsqueeze(0)
        db2 = (c * fgrad.sum()).reshape(1)
        return dz.reshape(z.shape), dw1, db1, dw2, db2, None


def learned_activation_and_slope_traceable(z, act_params, scale):
    """f(z) and f'(z) of the learned activation in the form torch.compile fuses (same values)."""
    f, slope, _, _ = _LearnedActivationWithSlopeTraceable.apply(z, *act_params, scale)
    return f, slope


def _fast_step(w1, b1, w2, b2, v1, vb1, v2, vb2, xb, onehot, noise_row, gw1, gb1, gw2, gb2,
               scale, lr, decay, eps, act_fn):
    """One inner step with hand-written gradients and RMSprop; returns new state and the loss.

    `act_fn(z, act_params, scale)` gives f(z) and f'(z): the fused or the traceable form.
    """
    z = xb @ w1.T + b1
    f, slope = act_fn(z, (gw1, gb1, gw2, gb2), scale)
    h = f + noise_row
    logits = h @ w2.T + b2
    logp = torch.log_softmax(logits, dim=1)
    n = xb.shape[0]
    loss = -(logp * onehot).sum() / n
    d = (torch.exp(logp) - onehot) / n
    dz = (d @ w2) * slope
    grads = (dz.T @ xb, dz.sum(0), d.T @ h, d.sum(0))
    out = []
    for p, v, g in zip((w1, b1, w2, b2), (v1, vb1, v2, vb2), grads):
        v = v * decay + g * g * (1 - decay)
        out.append((p - lr * g / (torch.sqrt(v) + eps), v))
    (w1, v1), (b1, vb1), (w2, v2), (b2, vb2) = out
    return w1, b1, w2, b2, v1, vb1, v2, vb2, loss


def _fast_step_traceable(w1, b1, w2, b2, v1, vb1, v2, vb2, xb, onehot, noise_row, gw1, gb1, gw2,
                         gb2, scale, lr, decay, eps):
    """_fast_step with the traceable activation: the function the `compiled` version compiles."""
    return _fast_step(w1, b1, w2, b2, v1, vb1, v2, vb2, xb, onehot, noise_row, gw1, gb1, gw2, gb2,
                      scale, lr, decay, eps, act_fn=learned_activation_and_slope_traceable)


_COMPILED = {}


def compiled(name):
    """The torch.compile'd version of one of this module's functions (made once per process).

    dynamic=False: every shape is fixed within an experiment, and static shapes give the fastest
    kernels. The first call of each compiles it (seconds; inductor caches on disk afterwards).
    """
    if name not in _COMPILED:
        fn = {"step": _fast_step_traceable, "table_correct": _table_correct,
              "table_values": _table_values}[name]
        _COMPILED[name] = torch.compile(fn, dynamic=False)
    return _COMPILED[name]


def inner_run_fast(params, noise, x, y, act_params, cfg, snapshots=False, impl="fused",
                   compile_step=True):
    """metalearn_afunc.inner_run_plain's loop with the learned activation, gradients by hand.

    Forward: z = x W1^T + b1, h = f(z) + noise, logits = h W2^T + b2, loss = mean CE.
    Backward: d logits = (softmax - onehot) / B; dW2 = d^T h; db2 = sum d; dh = d W2;
    dz = dh * f'(z); dW1 = dz^T x; db1 = sum dz. All ordinary operations, so autograd
    differentiates the losses through the loop with one backward pass. `impl`: `fused` (f and f'
    from _LearnedActivationWithSlope, its backward written out and fused by hand) or `compiled`
    (each step one torch.compile graph; with compile_step=False the same traceable functions
    run eagerly, for tests).
    """
    state = tuple(p.detach() for p in params)
    state = state + tuple(torch.full_like(p, cfg.rms_init) for p in state)
    if impl == "compiled":
        step_fn = compiled("step") if compile_step else _fast_step_traceable
        # the initial state marked as requiring a gradient (never asked for), so that every
        # step has the same autograd signature and one compiled graph serves them all
        if torch.is_grad_enabled() and any(p.requires_grad for p in act_params):
            state = tuple(p.requires_grad_() for p in state)
    elif impl == "fused":
        step_fn = functools.partial(_fast_step, act_fn=learned_activation_and_slope_fused)
    else:
        raise ValueError(f"inner_run_fast: implementation {impl!r} is not fused or compiled")
    losses, snaps = [], []
    n_out = params[2].shape[0]
    onehots = F.one_hot(y, n_out).to(x.dtype)
    for step, start in enumerate(batch_slices(len(x), cfg.batch_size, cfg.inner_steps)):
        xb, ob = x[start:start + cfg.batch_size], onehots[start:start + cfg.batch_size]
        *state, loss = step_fn(*state, xb, ob, noise[step, 0], *act_params, cfg.act_scale,
                               cfg.inner_lr, cfg.rms_decay, cfg.eps)
        losses.append(loss)
        if snapshots:
            snaps.append(tuple(p.detach() for p in state[:4]))
    return torch.stack(losses), snaps


def test_accuracies(snaps, noise, x_test, y_test, act_values, chunk=None):
    """Accuracy (%) on (x_test, y_test) after each step, with that step's test noise.

    `act_values(z)` evaluates the activation on a tensor of pre-activations (no gradient).
    Steps are evaluated `chunk` at a time (by default 16, or one at a time when the activation
    is the learned f evaluated as written, whose intermediate is act_hidden times larger).
    """
    if not snaps:
        return np.zeros(0)
    if chunk is None:
        chunk = 1 if getattr(act_values, "expands", False) else 16
    accs = []
    with torch.no_grad():
        w1 = torch.stack([s[0] for s in snaps])
        b1 = torch.stack([s[1] for s in snaps])
        w2 = torch.stack([s[2] for s in snaps])
        b2 = torch.stack([s[3] for s in snaps])
        for i in range(0, len(snaps), chunk):
            sl = slice(i, i + chunk)
            z = torch.matmul(x_test, w1[sl].transpose(1, 2)) + b1[sl, None, :]
            h = act_values(z) + noise[sl, 1][:, None, :]
            logits = torch.matmul(h, w2[sl].transpose(1, 2)) + b2[sl, None, :]
            accs.append((logits.argmax(-1) == y_test).to(torch.float64).mean(-1) * 100)
    return torch.cat(accs).cpu().numpy()


class ActivationTable:
    """f tabulated on a fine grid and linearly interpolated: a fast evaluation for test accuracy.

    Between grid points (spacing h) the interpolation error is at most h^2/8 max|f''|; with
    h = 1e-3 that is about 1e-7, the size of float32 rounding in f itself. Values outside the
    grid are evaluated exactly.

    The table is computed on the device of `act_params` (in float64), where it is used: it is
    built once per outer step, and on a GPU building it on the CPU would wait for the device
    (the copy of the parameters) and then keep it idle while the CPU tabulates.
    """

    def __init__(self, act_params, scale, lo=-30.0, hi=30.0, spacing=1e-3, compile=False):
        n = int(round((hi - lo) / spacing)) + 1
        device = act_params[0].device
        grid = torch.linspace(lo, hi, n, dtype=torch.float64, device=device)
        with torch.no_grad():
            p64 = tuple(p.detach().to(torch.float64) for p in act_params)
            if compile:   # one fused pass, no (grid x act_hidden) intermediate
                vals = compiled("table_values")(grid, *p64, scale)
            else:
                vals = torch.cat([learned_activation(c, p64, scale) for c in grid.split(20000)])
        self.act_params, self.scale = act_params, scale
        self.lo, self.hi, self.spacing, self.n = lo, hi, (hi - lo) / (n - 1), n
        self.dtype = act_params[0].dtype
        self.values = vals                                    # float64, on act_params' device

    def __call__(self, z):
        # positions in float64: in float32, z = 20 would place a point only to 1/250 of a cell
        pos = (z.to(torch.float64) - self.lo) / self.spacing
        idx = pos.floor().clamp(0, self.n - 2)
        frac = pos - idx
        idx = idx.long()
        out = torch.lerp(self.values[idx], self.values[idx + 1], frac).to(z.dtype)
        outside = (z < self.lo) | (z > self.hi)
        if outside.any():
            out = torch.where(outside, learned_activation(z, self.act_params, self.scale), out)
        return out


def _table_values(grid, gw1, gb1, gw2, gb2, scale):
    """learned_activation on a 1-d grid, written as a sum that torch.compile fuses."""
    t = torch.tanh(grid.unsqueeze(-1) * gw1[:, 0] + gb1)
    return F.elu(grid) + scale * ((t * gw2[0]).sum(-1) + gb2[0])


def _table_correct(x_test, y_test, w1, b1, w2, b2, noise_row, values, lo, hi, spacing):
    """Correct test predictions of one parameter snapshot, f from the table (ActivationTable's
    interpolation, written for torch.compile), and whether a pre-activation left the table."""
    z = x_test @ w1.T + b1
    pos = (z.to(torch.float64) - lo) / spacing
    idx = pos.floor().clamp(0, values.shape[0] - 2)
    frac = pos - idx
    i = idx.long()
    h = torch.lerp(values[i], values[i + 1], frac).to(z.dtype) + noise_row
    logits = h @ w2.T + b2
    return (logits.argmax(-1) == y_test).sum(), ((z < lo) | (z > hi)).any()


def test_accuracies_compiled(snaps, noise, x_test, y_test, table):
    """test_accuracies with `table` (an ActivationTable), one compiled graph per snapshot.

    Snapshots whose pre-activations leave the table's range (where f is evaluated exactly) are
    evaluated again by test_accuracies.
    """
    if not snaps:
        return np.zeros(0)
    fn = compiled("table_correct")
    correct, outside = [], []
    with torch.no_grad():
        for step, (w1, b1, w2, b2) in enumerate(snaps):
            c, o = fn(x_test, y_test, w1, b1, w2, b2, noise[step, 1], table.values, table.lo,
                      table.hi, table.spacing)
            correct.append(c)
            outside.append(o)
        accs = (torch.stack(correct).to(torch.float64) / len(y_test) * 100).cpu().numpy()
        for step in torch.nonzero(torch.stack(outside)).flatten().tolist():
            accs[step] = test_accuracies(snaps[step:step + 1], noise[step:step + 1], x_test,
                                         y_test, table)[0]
    return accs

