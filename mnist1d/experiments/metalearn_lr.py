"""Metalearning the learning rate of SGD (paper Fig. "metalearn lr").

A 40-50-10 tanh MLP trained by plain SGD for 200 in-order batches; the outer objective is the
mean inner training loss, differentiated through the whole unrolled loop with respect to the
learning rate; 50 outer gradient-descent steps on the learning rate, one trial per starting
value. The inner loop is functional (parameter tuples in, updated tuples out), so autograd gives
the meta-gradient. Every outer step starts from the same initialisation (torch.nn.Linear's, after
torch.manual_seed(seed), as the reference notebook).
"""
from __future__ import annotations

import time

# torch (and mnist1d.models / mnist1d.train, which import it) is imported inside the functions
# that train: the figure, table and aggregation jobs and Snakemake's own process import this
# module without paying for torch (tests/test_startup.py).
import numpy as np
import pandas as pd

from mnist1d.experiments.metalearn_common import batch_slices, reference_linear_init, to_tensors


PROTOCOL_KEYS = ("start_lrs", "hidden", "batch_size", "inner_steps", "outer_steps", "outer_lr",
                 "seed")


def protocol_from_config(config):
    """The settings the learning-rate job computes with, from the whole resolved pipeline config.

    A plain JSON-able dict of `metalearn.lr`'s PROTOCOL_KEYS: start_lrs (one trial each) and
    metalearn_lr's keyword arguments. The rule passes exactly this to the job (params
    `protocol`), so the job reruns when one of these changes and only then;
    `metalearn.lr.dataset` names the rule's input instead.
    """
    section = config["metalearn"]["lr"]
    protocol = {key: section[key] for key in PROTOCOL_KEYS}
    protocol["start_lrs"] = list(protocol["start_lrs"])
    return protocol


def tanh_mlp_logits(params, x):
    """Logits of the tanh MLP with parameters (w1, b1, w2, b2)."""
    import torch

    w1, b1, w2, b2 = params
    return torch.tanh(x @ w1.T + b1) @ w2.T + b2


def lr_inner_losses(lr, params, x, y, batch_size, steps):
    """Plain SGD for `steps` in-order batches; the stacked losses stay differentiable in `lr`."""
    import torch
    import torch.nn.functional as F

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
                 outer_lr=0.3, seed=0, device="cpu", dtype=None, log=None):
    """One trial. Returns a list of per-outer-step records (dicts); dtype None = float32."""
    import torch   # in the functions that train: the figure jobs and Snakemake start without it

    dtype = torch.float32 if dtype is None else dtype
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


def metalearn_lr_trials(data, protocol, *, device="cpu", dtype=None, log=None):
    """Every trial of `protocol` (from protocol_from_config), one per starting learning rate.

    Returns the records of all trials, in order.
    """
    settings = {k: v for k, v in protocol.items() if k != "start_lrs"}
    records = []
    for start_lr in protocol["start_lrs"]:
        records += metalearn_lr(data, start_lr, **settings, device=device, dtype=dtype, log=log)
        if log is not None:
            log(f"trial from {start_lr}: final learning rate {records[-1]['lr_next']:.4f}")
    return records


def train_job(protocol, inputs, *, device="cpu", logger=None, dtype=None):
    """The metalearn_lr job (mnist1d.experiments: job functions): every trial of `protocol`
    (protocol_from_config) on inputs["dataset"]. Returns "trials", the records of
    metalearn_lr_trials as a table."""
    say = logger.info if logger is not None else None
    if say:
        say(f"protocol {protocol} on {device}")
    rows = metalearn_lr_trials(inputs["dataset"], protocol, device=device, dtype=dtype, log=say)
    return {"trials": pd.DataFrame(rows)}


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

