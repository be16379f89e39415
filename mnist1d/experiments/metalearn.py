"""Gradient-based metalearning through unrolled inner training loops (SPEC sections 5 and 6).

Two experiments:

* learning rate (SPEC 5): a 40-50-10 tanh MLP trained by plain SGD for 200 steps; the outer
  objective is the mean inner training loss, differentiated through the whole unrolled loop with
  respect to the learning rate; 50 outer gradient-descent steps.
* activation function (SPEC 6): a 40-128-10 MLP whose hidden activation is
  f(z) = elu(z) + 0.2 * g(z), g an MLP 1-100-1 with tanh, followed by uniform noise per hidden
  unit; RMSprop written out by hand; outer objective the mean of the last 200 of 301 inner losses;
  element-wise clipped meta-gradients; 301 outer SGD steps, each with a fresh inner
  initialisation.

The inner loops are functional: parameters are tuples of tensors passed in and returned, and the
update is ordinary tensor arithmetic, so autograd differentiates through the whole loop.
Several implementations of the activation experiment's differentiable inner loop compute the
same thing:

* ``plain``: the loss's gradient by ``torch.autograd.grad(create_graph=True)`` (a transcription
  of the protocol; double backward for the meta-gradient);
* ``fast``: the inner gradient written out by hand (softmax cross-entropy, two linear layers, the
  activation's derivative in closed form, reusing the forward's tanh values), so the meta-gradient
  is a single backward pass through ordinary operations. Its meta-gradient equals the plain one
  (tests/test_metalearn.py);
* ``fused``: ``fast`` with the activation's backward written out and fused by hand;
* ``compiled``: ``fast`` with the activation (f, f' and their backward) in element-wise operations
  and sums that torch.compile fuses, each inner step one compiled graph (forward and backward, by
  AOTAutograd), and the per-step test accuracy one compiled graph per step. Nothing of the
  activation's (batch x hidden x act_hidden) intermediate is kept between the forward and the
  backward: it is recomputed, which is cheaper than storing it. The same computation as the
  others up to float32 rounding.

Randomness is explicit: every inner run draws its initialisation and noise from its own
``torch.Generator`` seeded from (seed, outer step), so an interrupted outer loop resumed from a
checkpoint gives identical results.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mnist1d.io import atomic_path

BASELINES = ("relu", "swish", "elu", "softplus", "tanh", "sigmoid")


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------

def linear_init(fan_in, fan_out, generator, dtype=torch.float32):
    """(weight, bias) distributed as torch.nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    w = (torch.rand(fan_out, fan_in, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    b = (torch.rand(fan_out, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    return w.to(dtype), b.to(dtype)


def reference_linear_init(sizes, seed, dtype=torch.float32):
    """Weights of torch.nn.Linear layers built in order right after torch.manual_seed(seed).

    This is how the reference notebooks initialise, so seed 0 gives the published starting point.
    The global RNG is restored afterwards.
    """
    params = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layer = torch.nn.Linear(fan_in, fan_out)
            params += [layer.weight.detach().to(dtype), layer.bias.detach().to(dtype)]
    return tuple(params)


def batch_slices(n_train, batch_size, steps):
    """The reference's in-order batches: start (step * batch_size) mod n, up to batch_size rows."""
    return [((s * batch_size) % n_train) for s in range(steps)]


def to_tensors(data, device, dtype=torch.float32):
    x = torch.as_tensor(np.asarray(data["x"]), dtype=dtype, device=device)
    y = torch.as_tensor(np.asarray(data["y"]), dtype=torch.int64, device=device)
    x_test = torch.as_tensor(np.asarray(data["x_test"]), dtype=dtype, device=device)
    y_test = torch.as_tensor(np.asarray(data["y_test"]), dtype=torch.int64, device=device)
    return x, y, x_test, y_test


def seed_for(seed, *parts):
    """A 63-bit generator seed from an experiment seed and labels (stable across runs)."""
    text = json.dumps([seed, *parts])
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


def data_digest(data):
    """A short checksum of the arrays an experiment trains and tests on."""
    digest = hashlib.sha256()
    for key in ("x", "y", "x_test", "y_test"):
        digest.update(np.ascontiguousarray(data[key]).tobytes())
    return digest.hexdigest()[:16]


def keep_freed_memory(on=True):
    """Ask glibc to keep freed large blocks for reuse instead of returning them to the system.

    Each unrolled inner step allocates several megabyte-sized tensors; by default glibc maps
    each one fresh and unmaps it when freed, so every step pays page faults for memory it just
    gave back (a 12800 x 100 outer product: 1.3 ms fresh, 0.1 ms reused). Changes no result.
    Returns False where mallopt is unavailable (not glibc).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    big = 1 << 30
    ok = mallopt(m_mmap_threshold, big if on else 128 * 1024)
    ok &= mallopt(m_trim_threshold, big if on else 128 * 1024)
    return bool(ok)


def generator(seed):
    """A CPU generator (draws are moved to the device: identical streams on CPU and GPU)."""
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    return g


# --------------------------------------------------------------------------------------------
# Section 5: metalearning a learning rate
# --------------------------------------------------------------------------------------------

def tanh_mlp_logits(params, x):
    w1, b1, w2, b2 = params
    return torch.tanh(x @ w1.T + b1) @ w2.T + b2


def lr_inner_losses(lr, params, x, y, batch_size, steps):
    """Plain SGD for `steps` in-order batches; the stacked losses stay differentiable in `lr`."""
    params = tuple(p.requires_grad_() if not p.requires_grad else p for p in params)
    losses = []
    for start in batch_slices(len(x), batch_size, steps):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        loss = F.cross_entropy(tanh_mlp_logits(params, xb), yb)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        params = tuple(p - lr * g for p, g in zip(params, grads))
        losses.append(loss)
    return torch.stack(losses)


def metalearn_lr(data, start_lr, *, hidden=50, batch_size=50, inner_steps=200, outer_steps=50,
                 outer_lr=0.3, seed=0, device="cpu", dtype=torch.float32, log=None):
    """SPEC 5: one trial. Returns a list of per-outer-step records (dicts)."""
    x, y, _, _ = to_tensors(data, device, dtype)
    init = tuple(p.to(device) for p in reference_linear_init((x.shape[1], hidden, 10), seed, dtype))
    lr = torch.tensor(float(start_lr), dtype=dtype, device=device, requires_grad=True)
    records = []
    for step in range(outer_steps):
        t0 = time.perf_counter()
        params = tuple(p.clone().requires_grad_() for p in init)
        losses = lr_inner_losses(lr, params, x, y, batch_size, inner_steps)
        outer_loss = losses.mean()
        (grad,) = torch.autograd.grad(outer_loss, lr)
        new_lr = (lr - outer_lr * grad).detach().requires_grad_()
        records.append({"start_lr": float(start_lr), "outer_step": step, "lr": lr.item(),
                        "outer_loss": outer_loss.item(), "final_inner_loss": losses[-1].item(),
                        "meta_grad": grad.item(), "lr_next": new_lr.item(),
                        "seconds": time.perf_counter() - t0})
        if log is not None:
            r = records[-1]
            log(f"lr trial {start_lr}: step {step} lr {r['lr']:.4f} outer {r['outer_loss']:.4f} "
                f"final {r['final_inner_loss']:.4f} -> {r['lr_next']:.4f}")
        lr = new_lr
    return records


# --------------------------------------------------------------------------------------------
# Section 6: metalearning an activation function
# --------------------------------------------------------------------------------------------

@dataclass
class AfuncConfig:
    """The activation experiment's protocol (SPEC 6 defaults)."""
    hidden: int = 128
    act_hidden: int = 100
    act_scale: float = 0.2
    noise: float = 0.1
    batch_size: int = 100
    inner_steps: int = 301
    inner_lr: float = 1e-2
    rms_decay: float = 0.4
    rms_init: float = 1.0
    eps: float = 1e-8
    loss_last: int = 200
    outer_steps: int = 301
    outer_lr: float = 0.3
    outer_momentum: float = 0.0
    clip: float = 0.1
    test_examples: int = 500
    sample_every: int = 10
    sample_points: int = 100
    sample_range: float = 5.0
    seed: int = 0
    implementation: str = "fused"
    test_eval: str = "table"
    checkpoint_every: int = 10

    @classmethod
    def from_dict(cls, d):
        """From a config section; keys that are not protocol fields (dataset, ...) are ignored."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def protocol(self):
        """The values that change results (a checkpoint from other values is not resumed)."""
        d = dict(self.__dict__)
        d.pop("checkpoint_every")
        return d


def baseline_activation(name):
    return {
        "relu": torch.relu,
        "swish": lambda z: z * torch.sigmoid(z),
        "elu": F.elu,
        "softplus": F.softplus,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
    }[name]


def init_act_params(cfg, dtype=torch.float32):
    """g's parameters (1 -> act_hidden -> 1), as the reference: nn.Linear after manual_seed(seed)."""
    return reference_linear_init((1, cfg.act_hidden, 1), cfg.seed, dtype)


def learned_activation(z, act_params, scale):
    """f(z) = elu(z) + scale * g(z), g(z) = w2 . tanh(w1 z + b1) + b2, element-wise."""
    gw1, gb1, gw2, gb2 = act_params
    t = torch.tanh(z.unsqueeze(-1) * gw1[:, 0] + gb1)
    return F.elu(z) + scale * (t @ gw2[0] + gb2[0])


def learned_activation_and_slope(z, act_params, scale):
    """f(z) and f'(z) in closed form; the tanh values are computed once and reused."""
    gw1, gb1, gw2, gb2 = act_params
    t = torch.tanh(z.unsqueeze(-1) * gw1[:, 0] + gb1)
    f = F.elu(z) + scale * (t @ gw2[0] + gb2[0])
    # elu'(z) = 1 for z > 0, exp(z) = elu(z) + 1 otherwise
    elu_slope = torch.where(z > 0, torch.ones_like(z), torch.exp(torch.clamp(z, max=0)))
    slope = elu_slope + scale * ((1 - t * t) @ (gw1[:, 0] * gw2[0]))
    return f, slope


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
    """learned_activation_and_slope with the fused hand-written backward (same values)."""
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
    """learned_activation_and_slope in the form torch.compile fuses (same values)."""
    f, slope, _, _ = _LearnedActivationWithSlopeTraceable.apply(z, *act_params, scale)
    return f, slope


def inner_init(cfg, n_in, n_out, seed, device, dtype):
    """A fresh inner MLP (n_in -> hidden -> n_out) and the run's noise, from one seeded generator.

    noise[s, 0] is added after the activation in training step s, noise[s, 1] in the test
    evaluation after step s; each is one value per hidden unit, shared by the batch.
    """
    gen = generator(seed)
    w1, b1 = linear_init(n_in, cfg.hidden, gen, dtype)
    w2, b2 = linear_init(cfg.hidden, n_out, gen, dtype)
    noise = (torch.rand(cfg.inner_steps, 2, cfg.hidden, generator=gen, dtype=torch.float64)
             * 2 - 1) * cfg.noise
    return (tuple(p.to(device) for p in (w1, b1, w2, b2)), noise.to(device=device, dtype=dtype))


def _rmsprop(params, grads, sq, cfg):
    sq = tuple(v * cfg.rms_decay + g * g * (1 - cfg.rms_decay) for v, g in zip(sq, grads))
    params = tuple(p - cfg.inner_lr * g / (torch.sqrt(v) + cfg.eps)
                   for p, g, v in zip(params, grads, sq))
    return params, sq


def _mlp_logits(params, x, act, noise_row):
    w1, b1, w2, b2 = params
    return (act(x @ w1.T + b1) + noise_row) @ w2.T + b2


def inner_run_plain(params, noise, x, y, act, cfg, differentiable=True, snapshots=False):
    """Hand-written RMSprop on the in-order batches, gradients by autograd.

    `act` maps pre-activations to activations. With `differentiable`, the inner gradients are
    built with create_graph so the returned losses can be differentiated with respect to
    whatever `act` closes over. Returns (losses (steps,), list of parameter snapshots after each
    step when `snapshots`).
    """
    params = tuple(p.detach().requires_grad_() for p in params)
    sq = tuple(torch.full_like(p, cfg.rms_init) for p in params)
    losses, snaps = [], []
    for step, start in enumerate(batch_slices(len(x), cfg.batch_size, cfg.inner_steps)):
        xb, yb = x[start:start + cfg.batch_size], y[start:start + cfg.batch_size]
        loss = F.cross_entropy(_mlp_logits(params, xb, act, noise[step, 0]), yb)
        grads = torch.autograd.grad(loss, params, create_graph=differentiable)
        if not differentiable:
            params = tuple(p.detach() for p in params)
        params, sq = _rmsprop(params, grads, sq, cfg)
        if not differentiable:
            params = tuple(p.requires_grad_() for p in params)
        losses.append(loss if differentiable else loss.detach())
        if snapshots:
            snaps.append(tuple(p.detach() for p in params))
    return torch.stack(losses), snaps


def _fast_step(w1, b1, w2, b2, v1, vb1, v2, vb2, xb, onehot, noise_row, gw1, gb1, gw2, gb2,
               scale, lr, decay, eps, act_fn=learned_activation_and_slope):
    """One inner step with hand-written gradients and RMSprop; returns new state and the loss."""
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


IMPLEMENTATIONS = ("plain", "fast", "fused", "compiled")


def resolve_implementation(implementation, compile):
    """The implementation a job runs: `compiled` falls back to `fused` where compiling is off.

    (The quick and smoke presets set the top-level `compile: false`, so they do not wait for
    compiles; `fused` computes the same thing uncompiled.)
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"config key 'metalearn.afunc.implementation': {implementation!r} is not "
                         f"one of {', '.join(IMPLEMENTATIONS)}")
    return "fused" if implementation == "compiled" and not compile else implementation


def inner_run_fast(params, noise, x, y, act_params, cfg, snapshots=False, impl="fused",
                   compile_step=True):
    """The same inner loop as inner_run_plain with the learned activation, gradients by hand.

    Forward: z = x W1^T + b1, h = f(z) + noise, logits = h W2^T + b2, loss = mean CE.
    Backward: d logits = (softmax - onehot) / B; dW2 = d^T h; db2 = sum d; dh = d W2;
    dz = dh * f'(z); dW1 = dz^T x; db1 = sum dz. All ordinary operations, so autograd
    differentiates the losses through the loop with one backward pass. `impl`: `fast` (f and f'
    by autograd-visible operations), `fused` (from _LearnedActivationWithSlope, its backward
    written out and fused by hand) or `compiled` (each step one torch.compile graph; with
    compile_step=False the same traceable functions run eagerly, for tests).
    """
    state = tuple(p.detach() for p in params)
    state = state + tuple(torch.full_like(p, cfg.rms_init) for p in state)
    if impl == "compiled":
        step_fn = compiled("step") if compile_step else _fast_step_traceable
        # the initial state marked as requiring a gradient (never asked for), so that every
        # step has the same autograd signature and one compiled graph serves them all
        if torch.is_grad_enabled() and any(p.requires_grad for p in act_params):
            state = tuple(p.requires_grad_() for p in state)
    else:
        act_fn = {"fast": learned_activation_and_slope,
                  "fused": learned_activation_and_slope_fused}[impl]
        step_fn = functools.partial(_fast_step, act_fn=act_fn)
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
    """

    def __init__(self, act_params, scale, lo=-30.0, hi=30.0, spacing=1e-3, compile=False):
        n = int(round((hi - lo) / spacing)) + 1
        grid = torch.linspace(lo, hi, n, dtype=torch.float64)
        with torch.no_grad():
            p64 = tuple(p.detach().to(torch.float64).cpu() for p in act_params)
            if compile:   # one fused pass, no (grid x act_hidden) intermediate
                vals = compiled("table_values")(grid, *p64, scale)
            else:
                vals = torch.cat([learned_activation(c, p64, scale) for c in grid.split(20000)])
        self.act_params, self.scale = act_params, scale
        self.lo, self.hi, self.spacing, self.n = lo, hi, (hi - lo) / (n - 1), n
        self.dtype = act_params[0].dtype
        self.values = vals.to(device=act_params[0].device)   # float64

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


def learned_test_accuracies(snaps, noise, x_test, y_test, act_params, cfg):
    """Per-step test accuracies with the learned activation, as cfg says (compiled or not)."""
    if cfg.implementation == "compiled" and cfg.test_eval == "table":
        table = ActivationTable(act_params, cfg.act_scale, compile=True)
        return test_accuracies_compiled(snaps, noise, x_test, y_test, table)
    return test_accuracies(snaps, noise, x_test, y_test,
                           activation_values("learned", act_params, cfg))


def activation_values(name, act_params, cfg):
    """An evaluation-only (no gradient) activation for the test accuracies."""
    if name != "learned":
        return baseline_activation(name)
    if cfg.test_eval == "table":
        return ActivationTable(act_params, cfg.act_scale)

    def exact(z):
        return learned_activation(z, act_params, cfg.act_scale)
    exact.expands = True
    return exact


def afunc_outer_step(act_params, data_t, cfg, outer_step, device, dtype, with_test=True,
                     compile_step=True):
    """One outer step: a fresh inner run with the current activation; returns losses, meta-grads.

    compile_step=False runs the `compiled` implementation's functions eagerly (for tests).
    """
    x, y, x_test, y_test = data_t
    act_params = tuple(p.detach().requires_grad_() for p in act_params)
    params, noise = inner_init(cfg, x.shape[1], int(y.max()) + 1,
                               seed_for(cfg.seed, "afunc-inner", outer_step), device, dtype)
    resolve_implementation(cfg.implementation, True)   # a bad name stops here, named
    if cfg.implementation == "plain":
        act = lambda z: learned_activation(z, act_params, cfg.act_scale)  # noqa: E731
        losses, snaps = inner_run_plain(params, noise, x, y, act, cfg, snapshots=with_test)
    else:
        losses, snaps = inner_run_fast(params, noise, x, y, act_params, cfg, snapshots=with_test,
                                       impl=cfg.implementation, compile_step=compile_step)
    outer_loss = losses[-cfg.loss_last:].mean()
    grads = torch.autograd.grad(outer_loss, act_params)
    accs = np.zeros(0)
    if with_test:
        detached = tuple(p.detach() for p in act_params)
        accs = learned_test_accuracies(snaps, noise, x_test[:cfg.test_examples],
                                       y_test[:cfg.test_examples], detached, cfg)
    return losses.detach(), outer_loss.detach(), grads, accs


def sample_activation(act_params, cfg):
    xs = torch.linspace(-cfg.sample_range, cfg.sample_range, cfg.sample_points,
                        dtype=act_params[0].dtype, device=act_params[0].device)
    with torch.no_grad():
        ys = learned_activation(xs, act_params, cfg.act_scale)
    return xs.cpu().numpy(), ys.cpu().numpy()


def evaluate_activation(name, act_params, data_t, cfg, device, dtype):
    """Train one inner MLP with activation `name` ('learned' or a baseline), no meta-gradient.

    Every activation gets the same initialisation and noise (seed `cfg.seed`), so the comparison
    is paired. Returns (losses, test accuracies per step).
    """
    x, y, x_test, y_test = data_t
    params, noise = inner_init(cfg, x.shape[1], int(y.max()) + 1,
                               seed_for(cfg.seed, "afunc-evaluation"), device, dtype)
    if name == "learned":
        act = lambda z: learned_activation(z, act_params, cfg.act_scale)  # noqa: E731
    else:
        act = baseline_activation(name)
    losses, snaps = inner_run_plain(params, noise, x, y, act, cfg, differentiable=False,
                                    snapshots=True)
    xt, yt = x_test[:cfg.test_examples], y_test[:cfg.test_examples]
    if name == "learned":
        accs = learned_test_accuracies(snaps, noise, xt, yt, act_params, cfg)
    else:
        accs = test_accuracies(snaps, noise, xt, yt, activation_values(name, act_params, cfg))
    return losses.cpu().numpy(), accs


# --------------------------------------------------------------------------------------------
# The outer loop with checkpoints
# --------------------------------------------------------------------------------------------

def save_checkpoint(state, path):
    """Write `state` with torch.save under a temporary name, then rename (atomic)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path, protocol):
    """The state saved at `path` if it exists and was made with the same protocol, else None."""
    if not os.path.exists(path):
        return None
    state = torch.load(path, weights_only=False)
    if state.get("protocol") != protocol:
        return None
    return state


def metalearn_afunc(data, cfg, *, device="cpu", dtype=torch.float32, checkpoint=None, log=None,
                    stop_after=None):
    """SPEC 6's outer loop. Resumes from `checkpoint` (a path) when it holds a matching state.

    Returns dict: steps (per-outer-step records), samples (learned function every sample_every
    steps and at the end), act_params (final). `stop_after` (for tests) returns after that many
    outer steps of this call, as an interruption would, leaving the checkpoint behind.
    """
    say = log or (lambda msg: None)
    data_t = to_tensors(data, device, dtype)
    protocol = cfg.protocol() | {"dtype": str(dtype), "data": data_digest(data)}
    state = load_checkpoint(checkpoint, protocol) if checkpoint else None
    if state is None:
        act_params = tuple(p.to(device) for p in init_act_params(cfg, dtype))
        state = {"protocol": protocol, "next_step": 0, "act_params": act_params,
                 "momentum": tuple(torch.zeros_like(p) for p in act_params),
                 "steps": [], "samples": []}
        x_fn, y_fn = sample_activation(act_params, cfg)
        state["samples"] += [{"outer_step": 0, "x": float(a), "y": float(b)}
                             for a, b in zip(x_fn, y_fn)]
    else:
        say(f"resuming from {checkpoint} at outer step {state['next_step']}")
    act_params, momentum = state["act_params"], state["momentum"]
    done_here = 0
    while state["next_step"] < cfg.outer_steps:
        step = state["next_step"]
        t0 = time.perf_counter()
        losses, outer_loss, grads, accs = afunc_outer_step(act_params, data_t, cfg, step,
                                                           device, dtype)
        grads = tuple(g.clamp(-cfg.clip, cfg.clip) for g in grads)
        momentum = tuple(cfg.outer_momentum * m + g for m, g in zip(momentum, grads))
        act_params = tuple((p - cfg.outer_lr * m).detach() for p, m in zip(act_params, momentum))
        record = {"outer_step": step, "outer_loss": outer_loss.item(),
                  "mean_inner_loss": losses.mean().item(), "final_inner_loss": losses[-1].item(),
                  "final_test_acc": float(accs[-1]) if len(accs) else float("nan"),
                  "mean_test_acc": float(accs.mean()) if len(accs) else float("nan"),
                  "meta_grad_norm": math.sqrt(sum((g * g).sum().item() for g in grads)),
                  "seconds": time.perf_counter() - t0}
        state["steps"].append(record)
        state["next_step"] = step + 1
        state["act_params"], state["momentum"] = act_params, momentum
        if (step + 1) % cfg.sample_every == 0 or step + 1 == cfg.outer_steps:
            x_fn, y_fn = sample_activation(act_params, cfg)
            state["samples"] += [{"outer_step": step + 1, "x": float(a), "y": float(b)}
                                 for a, b in zip(x_fn, y_fn)]
        say(f"afunc step {step}: outer {record['outer_loss']:.4f} final "
            f"{record['final_inner_loss']:.4f} acc {record['final_test_acc']:.1f} "
            f"|g| {record['meta_grad_norm']:.1e} ({record['seconds']:.2f} s)")
        done_here += 1
        last = state["next_step"] == cfg.outer_steps
        if checkpoint and (state["next_step"] % cfg.checkpoint_every == 0 or last
                           or (stop_after is not None and done_here >= stop_after)):
            save_checkpoint(state, checkpoint)
        if stop_after is not None and done_here >= stop_after and not last:
            return None
    return {"steps": state["steps"], "samples": state["samples"], "act_params": act_params}


def afunc_baselines(data, act_params, cfg, names=BASELINES, *, device="cpu",
                    dtype=torch.float32, log=None):
    """The learned activation and each baseline trained by the same inner loop (paired seeds).

    Returns (summary rows, per-step rows).
    """
    data_t = to_tensors(data, device, dtype)
    summary, curves = [], []
    for name in ("learned", *names):
        losses, accs = evaluate_activation(name, act_params, data_t, cfg, device, dtype)
        summary.append({"activation": name, "mean_train_loss": float(losses.mean()),
                        "mean_train_loss_last": float(losses[-cfg.loss_last:].mean()),
                        "final_train_loss": float(losses[-1]),
                        "final_test_acc": float(accs[-1]), "mean_test_acc": float(accs.mean())})
        curves += [{"activation": name, "inner_step": i, "train_loss": float(lo),
                    "test_acc": float(a)} for i, (lo, a) in enumerate(zip(losses, accs))]
        if log:
            r = summary[-1]
            log(f"{name}: mean train loss {r['mean_train_loss']:.4f} "
                f"(last {cfg.loss_last}: {r['mean_train_loss_last']:.4f}), "
                f"final test acc {r['final_test_acc']:.1f}")
    return summary, curves


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------

BASELINE_COLORS = {"relu": "#e6ab02", "swish": "#d95f02", "elu": "#e7298a", "softplus": "#7570b3",
                   "tanh": "#1f78b4", "sigmoid": "#1b9e77", "learned": "k"}


def plot_lr(frame):
    """Three panels per trial: outer objective, final inner loss, learning rate vs outer step."""
    from mnist1d import plotting

    fig, axes = plotting.plt.subplots(1, 3, figsize=(11, 3.2))
    for (start, trial), color in zip(frame.groupby("start_lr", sort=False), ("C0", "C1", "C2")):
        trial = trial.sort_values("outer_step")
        label = f"start {start:g}"
        axes[0].plot(trial.outer_step, trial.outer_loss, color=color, label=label)
        axes[1].plot(trial.outer_step, trial.final_inner_loss, color=color, label=label)
        steps = np.concatenate([trial.outer_step.to_numpy(), [trial.outer_step.max() + 1]])
        lrs = np.concatenate([trial.lr.to_numpy(), [trial.lr_next.iloc[-1]]])
        axes[2].plot(steps, lrs, color=color, label=f"{label} -> {lrs[-1]:.3f}")
    axes[0].set_title("Outer objective (mean inner loss)")
    axes[1].set_title("Final inner training loss")
    axes[2].set_title("Learning rate")
    for ax in axes:
        ax.set_xlabel("Outer step")
    axes[0].set_ylabel("Cross-entropy")
    axes[2].legend()
    fig.suptitle("Metalearning the learning rate of SGD (200 unrolled steps)", y=1.02)
    fig.tight_layout()
    return fig


def plot_afunc(steps, function, activations, sample_range=5.0):
    """The learned activation over the baselines, the outer loss, mean inner loss per activation."""
    from mnist1d import plotting

    plt = plotting.plt
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    ax = axes[0]
    x = np.linspace(-sample_range, sample_range, 200)
    xt = torch.as_tensor(x)
    sampled = sorted(function.outer_step.unique())
    cmap = plt.get_cmap("Greys")
    for i, s in enumerate(sampled[:-1]):
        part = function[function.outer_step == s]
        ax.plot(part.x, part.y, color=cmap(0.2 + 0.6 * i / max(1, len(sampled) - 1)), lw=0.6)
    for name in activations.activation:
        if name != "learned":
            ax.plot(x, baseline_activation(name)(xt).numpy(), color=BASELINE_COLORS[name],
                    lw=1.2, label=name)
    final = function[function.outer_step == sampled[-1]]
    ax.plot(final.x, final.y, color="k", lw=2.2, label=f"learned (step {sampled[-1]})")
    ax.axhline(0, color="gray", lw=0.5)
    ax.axvline(0, color="gray", lw=0.5)
    ax.set_xlim(-sample_range, sample_range)
    ax.set_ylim(-1.5, 4)
    ax.set_xlabel("z")
    ax.set_ylabel("f(z)")
    ax.set_title("Learned activation (grey: earlier outer steps)")
    ax.legend(fontsize=7, ncol=2)

    ax = axes[1]
    ax.plot(steps.outer_step, steps.outer_loss, color="k", lw=1, label="learned (fresh init each step)")
    for i, (_, row) in enumerate(activations[activations.activation != "learned"].iterrows()):
        ax.axhline(row.mean_train_loss_last, color=BASELINE_COLORS[row.activation], lw=1,
                   ls="--", label="baselines (colours as left)" if i == 0 else None)
    ax.set_xlabel("Outer step")
    ax.set_ylabel("Mean of the last inner losses")
    ax.set_title("Outer objective")
    ax.legend(fontsize=7)

    ax = axes[2]
    order = activations.sort_values("mean_train_loss")
    colors = [BASELINE_COLORS[n] for n in order.activation]
    ax.bar(order.activation, order.mean_train_loss, color=colors)
    for i, v in enumerate(order.mean_train_loss):
        ax.text(i, v + 0.02, f"{v:.2f}", ha="center", fontsize=8)
    ax.set_ylabel("Mean inner training loss")
    ax.set_title("Same inner loop, same init and noise")
    ax.tick_params(axis="x", rotation=45)
    fig.suptitle("Metalearning an activation function f(z) = elu(z) + 0.2 g(z)", y=1.02)
    fig.tight_layout()
    return fig
