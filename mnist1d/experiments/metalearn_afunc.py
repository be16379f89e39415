"""Metalearning an activation function (paper Fig. "metalearn activation").

A 40-128-10 MLP whose hidden activation is f(z) = elu(z) + 0.2 * g(z), g an MLP 1-100-1 with
tanh, followed by uniform noise per hidden unit; RMSprop written out by hand; the outer objective
is the mean of the last 200 of 301 inner losses; element-wise clipped meta-gradients; 301 outer
SGD steps. Then the learned f and six baselines are trained by the same inner loop from the same
initialisation and noise.

Two choices of the reference notebook metalearn-activation-function.ipynb are config keys:

* ``inner_init``: ``same`` (the notebook) starts every outer step's inner run from one
  initialisation and one noise stream, those of outer step 0 (generator seed
  seed_for(seed, "afunc-inner", 0)). The notebook's step 0 alone starts elsewhere (its inner
  network is drawn from the generator state the outer initialisation left, steps 1-300 from the
  state its previous inner run, begun by torch.manual_seed(0), left); that accident of its global
  generator is not copied: here step 0 is the same as every other step. ``fresh`` draws a new
  initialisation and noise for every outer step (seed_for(seed, "afunc-inner", step)).
* ``noise_in_g``: the uniform noise is also added after g's act_hidden tanh units (the notebook
  evaluates g by the inner MLP's forward function, noise included), one row per forward pass
  shared by every z of that pass. As g's output layer is linear, that noise row n shifts f by the
  constant act_scale * (n . w2) in that pass and leaves f' alone; the implementations add this
  shift to the inner noise row (g_noise_shift), so plain, fused and compiled all honour it
  (tests/test_metalearn.py checks it against g evaluated with the noise as written). The noise
  rows of g come from their own generator (seed_for(inner seed, "g-noise")), so with
  ``noise_in_g: false`` the inner noise is exactly that of earlier versions.

The number the paper publishes for the learned function ("0.94") is the mean over all outer steps
of the outer objective: afunc_activations.csv's column ``mean_outer_objective`` (learned row);
the baselines' published numbers are the mean of all inner losses of one run: column
``mean_train_loss``.

The inner loop is functional: parameters are tuples of tensors passed in and returned, and the
update is ordinary tensor arithmetic, so autograd differentiates through the whole loop.
`implementation` picks how the differentiable inner loop is built, all computing the same thing:

* ``plain`` (here): the loss's gradient by ``torch.autograd.grad(create_graph=True)`` (a
  transcription of the protocol; double backward for the meta-gradient);
* ``fused`` and ``compiled`` (mnist1d.experiments.afunc_kernels): the inner gradient written
  out by hand, the activation's backward fused by hand or compiled by torch.compile.

Randomness is explicit: every inner run draws its initialisation and noise from its own
``torch.Generator`` seeded from (seed, outer step), so an interrupted outer loop resumed from a
checkpoint gives identical results.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

# torch (and mnist1d.models / mnist1d.train, which import it) is imported inside the functions
# that train: the figure, table and aggregation jobs and Snakemake's own process import this
# module without paying for torch (tests/test_startup.py).
import numpy as np
import pandas as pd

from mnist1d.experiments.metalearn_common import (batch_slices, data_digest, generator,
                                                  keep_freed_memory, linear_init,
                                                  reference_linear_init, seed_for, to_tensors)
from mnist1d.io import atomic_path
from mnist1d.specs import compile_for

BASELINES = ("relu", "swish", "elu", "softplus", "tanh", "sigmoid")
IMPLEMENTATIONS = ("plain", "fused", "compiled")
INNER_INITS = ("same", "fresh")


@dataclass
class AfuncConfig:
    """The activation experiment's protocol (the paper's defaults)."""
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
    inner_init: str = "same"
    noise_in_g: bool = True
    checkpoint_every: int = 10

    def __post_init__(self):
        if self.inner_init not in INNER_INITS:
            raise ValueError(f"config key 'metalearn.afunc.inner_init': {self.inner_init!r} is "
                             f"not one of {', '.join(INNER_INITS)}")
        if not isinstance(self.noise_in_g, bool):
            raise ValueError(f"config key 'metalearn.afunc.noise_in_g': {self.noise_in_g!r} is "
                             f"not true or false")

    @classmethod
    def from_dict(cls, d):
        """From a config section; keys that are not protocol fields (dataset, ...) are ignored."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def protocol(self):
        """The values that change results (a checkpoint from other values is not resumed)."""
        d = dict(self.__dict__)
        d.pop("checkpoint_every")
        return d


def resolve_implementation(implementation, compile):
    """The implementation a job runs: `compiled` falls back to `fused` where compiling is off.

    (`compile` is the top-level config's choice for metalearn, specs.compile_for: the quick and
    smoke presets set `compile: false`, so they do not wait for compiles; `fused` computes the
    same thing uncompiled.)
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"config key 'metalearn.afunc.implementation': {implementation!r} is not "
                         f"one of {', '.join(IMPLEMENTATIONS)}")
    return "fused" if implementation == "compiled" and not compile else implementation


def protocol_from_config(config):
    """The settings the activation job computes with, from the whole resolved pipeline config.

    A plain JSON-able dict: every AfuncConfig field from `metalearn.afunc`, `implementation`
    resolved against the top-level `compile` for metalearn (specs.compile_for,
    resolve_implementation), and `baselines`, the
    activations afunc_baselines compares. The rule passes exactly this to the job (params
    `protocol`), so the job reruns when one of these changes and only then;
    `metalearn.afunc.dataset` names the rule's input instead.
    """
    section = config["metalearn"]["afunc"]
    protocol = {name: section[name] for name in AfuncConfig.__dataclass_fields__}
    protocol["implementation"] = resolve_implementation(section["implementation"],
                                                        compile_for(config, "metalearn"))
    protocol["baselines"] = list(section["baselines"])
    return protocol


def figure_settings(config):
    """What plot_afunc takes from the whole pipeline config: the range the function is drawn on
    and the inner initialisation (for the legend)."""
    section = config["metalearn"]["afunc"]
    return {"sample_range": section["sample_range"], "inner_init": section["inner_init"]}


def baseline_activation(name):
    """The baseline activation `name` (one of BASELINES) as a function of a tensor."""
    import torch
    import torch.nn.functional as F

    return {
        "relu": torch.relu,
        "swish": lambda z: z * torch.sigmoid(z),
        "elu": F.elu,
        "softplus": F.softplus,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
    }[name]


def baseline_curve(name, x):
    """The baseline activation `name` on a NumPy array (the figure's curves, without torch)."""
    x = np.asarray(x, dtype=np.float64)
    sigmoid = 1.0 / (1.0 + np.exp(-x))
    return {"relu": lambda: np.maximum(x, 0.0), "swish": lambda: x * sigmoid,
            "elu": lambda: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
            "softplus": lambda: np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20.0)))),
            "tanh": lambda: np.tanh(x), "sigmoid": lambda: sigmoid}[name]()


def init_act_params(cfg, dtype=None):
    """g's parameters (1 -> act_hidden -> 1), as the reference: nn.Linear after manual_seed(seed)."""
    return reference_linear_init((1, cfg.act_hidden, 1), cfg.seed, dtype)


def inner_init(cfg, n_in, n_out, seed, device, dtype):
    """A fresh inner MLP (n_in -> hidden -> n_out) and the run's noise, from one seeded generator.

    noise[s, 0] is added after the activation in training step s, noise[s, 1] in the test
    evaluation after step s; each is one value per hidden unit, shared by the batch.
    """
    import torch

    gen = generator(seed)
    w1, b1 = linear_init(n_in, cfg.hidden, gen, dtype)
    w2, b2 = linear_init(cfg.hidden, n_out, gen, dtype)
    noise = (torch.rand(cfg.inner_steps, 2, cfg.hidden, generator=gen, dtype=torch.float64)
             * 2 - 1) * cfg.noise
    return (tuple(p.to(device) for p in (w1, b1, w2, b2)), noise.to(device=device, dtype=dtype))


def inner_seed(cfg, outer_step):
    """The generator seed of outer step `outer_step`'s inner run: that of step 0 for every step
    with inner_init `same` (the notebook), the step's own with `fresh`."""
    return seed_for(cfg.seed, "afunc-inner", outer_step if cfg.inner_init == "fresh" else 0)


def g_noise(cfg, seed, device, dtype):
    """The noise rows added after g's act_hidden tanh units, (inner_steps, 2, act_hidden) like the
    inner noise (training pass, test pass of each step), or None when noise_in_g is off. Drawn
    from its own generator, derived from the inner run's seed."""
    import torch

    if not cfg.noise_in_g:
        return None
    gen = generator(seed_for(seed, "g-noise"))
    noise = (torch.rand(cfg.inner_steps, 2, cfg.act_hidden, generator=gen, dtype=torch.float64)
             * 2 - 1) * cfg.noise
    return noise.to(device=device, dtype=dtype)


def g_noise_shift(noise, gnoise, act_params, scale):
    """The inner noise rows with g's noise folded in: noise + scale * (gnoise . w2).

    g(z) with the row n added after its tanh units is w2 . (tanh(w1 z + b1) + n) + b2, i.e. g(z)
    plus the constant n . w2 for every z of that forward pass; f = elu + scale * g then shifts by
    scale * (n . w2), the same for every hidden unit, and h = f + noise shifts with it. Written
    with ordinary operations, so the meta-gradient flows through w2 here too."""
    if gnoise is None:
        return noise
    return noise + scale * (gnoise @ act_params[2][0]).unsqueeze(-1)


def _rmsprop(params, grads, sq, cfg):
    import torch

    sq = tuple(v * cfg.rms_decay + g * g * (1 - cfg.rms_decay) for v, g in zip(sq, grads))
    params = tuple(p - cfg.inner_lr * g / (torch.sqrt(v) + cfg.eps)
                   for p, g, v in zip(params, grads, sq))
    return params, sq


def _mlp_logits(params, x, act, noise_row):
    """Logits of the inner MLP: activation `act`, then `noise_row` added per hidden unit."""
    w1, b1, w2, b2 = params
    return (act(x @ w1.T + b1) + noise_row) @ w2.T + b2


def inner_run_plain(params, noise, x, y, act, cfg, differentiable=True, snapshots=False):
    """Hand-written RMSprop on the in-order batches, gradients by autograd.

    `act` maps pre-activations to activations. With `differentiable`, the inner gradients are
    built with create_graph so the returned losses can be differentiated with respect to
    whatever `act` closes over. Returns (losses (steps,), list of parameter snapshots after each
    step when `snapshots`).
    """
    import torch
    import torch.nn.functional as F

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


def learned_test_accuracies(snaps, noise, x_test, y_test, act_params, cfg):
    """Per-step test accuracies with the learned activation, as cfg says (compiled or not)."""
    from mnist1d.experiments.afunc_kernels import (ActivationTable, test_accuracies,
                                                   test_accuracies_compiled)

    if cfg.implementation == "compiled" and cfg.test_eval == "table":
        table = ActivationTable(act_params, cfg.act_scale, compile=True)
        return test_accuracies_compiled(snaps, noise, x_test, y_test, table)
    return test_accuracies(snaps, noise, x_test, y_test,
                           activation_values("learned", act_params, cfg))


def activation_values(name, act_params, cfg):
    """An evaluation-only (no gradient) activation for the test accuracies."""
    from mnist1d.experiments.afunc_kernels import ActivationTable, learned_activation

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
    import torch

    from mnist1d.experiments.afunc_kernels import inner_run_fast, learned_activation

    x, y, x_test, y_test = data_t
    act_params = tuple(p.detach().requires_grad_() for p in act_params)
    seed = inner_seed(cfg, outer_step)
    params, noise = inner_init(cfg, x.shape[1], int(y.max()) + 1, seed, device, dtype)
    noise = g_noise_shift(noise, g_noise(cfg, seed, device, dtype), act_params, cfg.act_scale)
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
        accs = learned_test_accuracies(snaps, noise.detach(), x_test[:cfg.test_examples],
                                       y_test[:cfg.test_examples], detached, cfg)
    return losses.detach(), outer_loss.detach(), grads, accs


def sample_activation(act_params, cfg):
    """The learned f on sample_points points of [-sample_range, sample_range], as arrays (x, f)."""
    import torch

    from mnist1d.experiments.afunc_kernels import learned_activation

    xs = torch.linspace(-cfg.sample_range, cfg.sample_range, cfg.sample_points,
                        dtype=act_params[0].dtype, device=act_params[0].device)
    with torch.no_grad():
        ys = learned_activation(xs, act_params, cfg.act_scale)
    return xs.cpu().numpy(), ys.cpu().numpy()


def evaluate_activation(name, act_params, data_t, cfg, device, dtype):
    """Train one inner MLP with activation `name` ('learned' or a baseline), no meta-gradient.

    Every activation gets the same initialisation and noise (seed `cfg.seed`), so the comparison
    is paired; the learned f also gets g's noise when noise_in_g is on (the baselines have no g).
    Returns (losses, test accuracies per step).
    """
    from mnist1d.experiments.afunc_kernels import learned_activation, test_accuracies

    x, y, x_test, y_test = data_t
    seed = seed_for(cfg.seed, "afunc-evaluation")
    params, noise = inner_init(cfg, x.shape[1], int(y.max()) + 1, seed, device, dtype)
    if name == "learned":
        noise = g_noise_shift(noise, g_noise(cfg, seed, device, dtype), act_params,
                              cfg.act_scale)
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
    import torch

    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path, protocol, device=None):
    """The state saved at `path` if it exists and was made with the same protocol, else None.

    `device`: where its tensors are loaded (None: where they were saved), so that a run
    interrupted on one device resumes on another (a GPU job resumed where there is none)."""
    import torch

    if not os.path.exists(path):
        return None
    state = torch.load(path, weights_only=False, map_location=device)
    if state.get("protocol") != protocol:
        return None
    return state


def metalearn_afunc(data, cfg, *, device="cpu", dtype=None, checkpoint=None, log=None,
                    stop_after=None):
    """The outer loop. Resumes from `checkpoint` (a path) when it holds a matching state.

    Returns dict: steps (per-outer-step records), samples (learned function every sample_every
    steps and at the end), act_params (final). `stop_after` (for tests) returns after that many
    outer steps of this call, as an interruption would, leaving the checkpoint behind.
    dtype None = float32.
    """
    import torch   # in the functions that train: the figure jobs and Snakemake start without it

    dtype = torch.float32 if dtype is None else dtype
    say = log or (lambda msg: None)
    data_t = to_tensors(data, device, dtype)
    protocol = cfg.protocol() | {"dtype": str(dtype), "data": data_digest(data)}
    state = load_checkpoint(checkpoint, protocol, device) if checkpoint else None
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


def mean_outer_objective(steps):
    """The mean over all outer steps of the outer objective (the paper's "learned 0.94"; the
    notebook's np.mean(results['train_losses']), 0.9363). `steps`: metalearn_afunc's records."""
    losses = [r["outer_loss"] for r in steps]
    return float(np.mean(losses)) if losses else float("nan")


def afunc_baselines(data, act_params, cfg, names=BASELINES, *, device="cpu",
                    dtype=None, log=None, steps=None):
    """The learned activation and each baseline trained by the same inner loop (paired seeds).

    Returns (summary rows, per-step rows). Column mean_train_loss: the mean of all inner_steps
    losses of the run (the quantity the notebook prints for the baselines); with `steps` (the
    outer loop's records) the learned row also gets mean_outer_objective (mean_outer_objective(),
    the quantity of the published "learned 0.94"); NaN in the baselines' rows. dtype None =
    float32.
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    data_t = to_tensors(data, device, dtype)
    summary, curves = [], []
    for name in ("learned", *names):
        losses, accs = evaluate_activation(name, act_params, data_t, cfg, device, dtype)
        summary.append({"activation": name, "mean_train_loss": float(losses.mean()),
                        "mean_train_loss_last": float(losses[-cfg.loss_last:].mean()),
                        "final_train_loss": float(losses[-1]),
                        "final_test_acc": float(accs[-1]), "mean_test_acc": float(accs.mean())})
        if steps is not None:
            summary[-1]["mean_outer_objective"] = (mean_outer_objective(steps)
                                                   if name == "learned" else float("nan"))
        curves += [{"activation": name, "inner_step": i, "train_loss": float(lo),
                    "test_acc": float(a)} for i, (lo, a) in enumerate(zip(losses, accs))]
        if log:
            r = summary[-1]
            log(f"{name}: mean train loss {r['mean_train_loss']:.4f} "
                f"(last {cfg.loss_last}: {r['mean_train_loss_last']:.4f}), "
                f"final test acc {r['final_test_acc']:.1f}")
    return summary, curves


def train_job(protocol, inputs, *, device="cpu", logger=None, checkpoint=None, dtype=None):
    """The metalearn_afunc job (mnist1d.experiments: job functions): metalearn the activation
    of `protocol` (protocol_from_config; `implementation` already resolved) on
    inputs["dataset"], then train the learned one and protocol["baselines"] by the same inner
    loop (afunc_baselines).

    `checkpoint` (a path; None: none) is resumed from when it holds a state of this protocol and
    written as the outer loop goes (metalearn_afunc); the caller removes it once the outputs are
    written. Returns "steps" (the outer loop's records), "function" (the learned function's
    samples), "activations" (afunc_baselines' summary) and "curves" (its per-step rows)."""
    say = logger.info if logger is not None else None
    keep_freed_memory()   # the unrolled inner steps reuse their freed memory; changes no result
    cfg = AfuncConfig.from_dict(protocol)
    data = inputs["dataset"]
    if checkpoint:
        os.makedirs(os.path.dirname(checkpoint) or ".", exist_ok=True)
    if say:
        say(f"protocol {cfg.protocol()} on {device}; checkpoint {checkpoint}")
    result = metalearn_afunc(data, cfg, device=device, dtype=dtype, checkpoint=checkpoint,
                             log=say)
    summary, curves = afunc_baselines(data, result["act_params"], cfg,
                                      names=protocol["baselines"], device=device, dtype=dtype,
                                      log=say, steps=result["steps"])
    if say:
        say(f"mean over the outer steps of the outer objective (the published 'learned 0.94'): "
            f"{summary[0]['mean_outer_objective']:.4f}")
    return {"steps": pd.DataFrame(result["steps"]), "function": pd.DataFrame(result["samples"]),
            "activations": pd.DataFrame(summary), "curves": pd.DataFrame(curves)}


# --------------------------------------------------------------------------------------------
# Figure
# --------------------------------------------------------------------------------------------

BASELINE_COLORS = {"relu": "#e6ab02", "swish": "#d95f02", "elu": "#e7298a", "softplus": "#7570b3",
                   "tanh": "#1f78b4", "sigmoid": "#1b9e77", "learned": "k"}


def plot_afunc(steps, function, activations, sample_range=5.0, inner_init="same"):
    """The learned activation over the baselines, the outer loss, mean inner loss per activation."""
    from mnist1d import plotting

    plt = plotting.plt
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    ax = axes[0]
    x = np.linspace(-sample_range, sample_range, 200)
    sampled = sorted(function.outer_step.unique())
    cmap = plt.get_cmap("Greys")
    for i, s in enumerate(sampled[:-1]):
        part = function[function.outer_step == s]
        ax.plot(part.x, part.y, color=cmap(0.2 + 0.6 * i / max(1, len(sampled) - 1)), lw=0.6)
    for name in activations.activation:
        if name != "learned":
            ax.plot(x, baseline_curve(name, x), color=BASELINE_COLORS[name],
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
    init = "one inner init" if inner_init == "same" else "fresh inner init each step"
    ax.plot(steps.outer_step, steps.outer_loss, color="k", lw=1,
            label=f"learned ({init}; mean over steps {steps.outer_loss.mean():.3f})")
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
