"""The metalearned activation, fitted by a piecewise-linear function (the reference notebook
metalearn-activation-function.ipynb, its "Approximate the learned activation").

The notebook approximates its learned f by six straight pieces split at z = -2, -1, -0.25, 0.1,
0.6 (coefficients read off the plot by hand, each piece its own line, so the pieces need not
meet) and trains the inner network with that function: 66.4 % test accuracy (the last inner
step, the first 500 test examples, as for the baselines). Here the pieces are fitted by least
squares to the learned function of this run, sampled on [-sample_range, sample_range] at the end
of the outer loop (afunc_function.csv), with the notebook's breakpoints by default
(`metalearn.afunc_fit`); `continuous: true` fits one continuous function through the knots
instead. The fitted f is then trained by the same inner loop, from the same initialisation and
noise as the learned f and the baselines (metalearn_afunc.evaluate_activation).
"""
import sys

# torch (and mnist1d.models / mnist1d.train, which import it) is imported inside the functions
# that train: the figure, table and aggregation jobs and Snakemake's own process import this
# module without paying for torch (tests/test_startup.py).
import numpy as np
import pandas as pd

from mnist1d.experiments import published
from mnist1d.experiments.metalearn_afunc import AfuncConfig, inner_init, inner_run_plain
from mnist1d.experiments.metalearn_common import seed_for, to_tensors

NOTEBOOK_KNOTS = (-2.0, -1.0, -0.25, 0.1, 0.6)
NOTEBOOK_TEST_ACC = published.AFUNC_FIT_TEST_ACC   # mnist1d.experiments.published


def protocol_from_config(config):
    """What the fit job computes with: the activation experiment's protocol (inner loop, seed)
    and the fit's settings (`metalearn.afunc_fit`)."""
    from mnist1d.experiments import metalearn_afunc

    protocol = metalearn_afunc.protocol_from_config(config)
    fit = config["metalearn"]["afunc_fit"]
    knots = [float(k) for k in fit["knots"]]
    if any(b <= a for a, b in zip(knots, knots[1:])):
        raise ValueError(f"config key 'metalearn.afunc_fit.knots': {knots} must increase")
    return {"afunc": protocol, "knots": knots, "continuous": bool(fit["continuous"])}


class PiecewiseLinear:
    """f(z) = slopes[i] * z + intercepts[i] on piece i, the pieces split at `knots` (increasing;
    piece i is knots[i-1] <= z < knots[i]). Works on tensors (with gradients) and arrays.

    On tensors, the knots and coefficients are converted once per dtype and device and kept:
    the inner loop calls f every step, and on a GPU a fresh conversion would be a host-to-device
    copy (a wait for the device) each time. So knots, slopes and intercepts are fixed once the
    function has been evaluated on a tensor: make a new PiecewiseLinear to change them."""

    def __init__(self, knots, slopes, intercepts):
        self.knots = np.asarray(knots, float)
        self.slopes = np.asarray(slopes, float)
        self.intercepts = np.asarray(intercepts, float)
        if len(self.slopes) != len(self.knots) + 1 or len(self.intercepts) != len(self.slopes):
            raise ValueError(f"{len(self.knots)} knots need {len(self.knots) + 1} pieces, got "
                             f"{len(self.slopes)} slopes and {len(self.intercepts)} intercepts")
        self._tensors = {}

    def tensors(self, dtype, device):
        """(knots, slopes, intercepts) as tensors of `dtype` on `device`, made once per pair."""
        import torch

        key = (dtype, torch.device(device))
        if key not in self._tensors:
            self._tensors[key] = tuple(torch.tensor(a, dtype=dtype, device=device)
                                       for a in (self.knots, self.slopes, self.intercepts))
        return self._tensors[key]

    def __call__(self, z):
        torch = sys.modules.get("torch")   # not imported: z is no tensor (the figure needs no torch)
        if torch is None or not torch.is_tensor(z):
            i = np.searchsorted(self.knots, np.asarray(z, float), side="right")
            return self.slopes[i] * z + self.intercepts[i]
        knots, slopes, intercepts = self.tensors(z.dtype, z.device)
        i = torch.bucketize(z, knots, right=True)
        return slopes[i] * z + intercepts[i]

    def table(self):
        """The pieces as rows: piece, lo, hi, slope, intercept."""
        edges = np.concatenate([[-np.inf], self.knots, [np.inf]])
        return pd.DataFrame({"piece": np.arange(len(self.slopes)), "lo": edges[:-1],
                             "hi": edges[1:], "slope": self.slopes,
                             "intercept": self.intercepts})


def fit_piecewise_linear(x, y, knots, continuous=False):
    """Least-squares piecewise-linear fit of samples (x, y) with breakpoints `knots`.

    continuous=False: one line per piece, each fitted to the samples inside it (the notebook's
    form; a piece needs two distinct x). continuous=True: the function a + b z + sum_k
    c_k relu(z - knot_k), fitted to all samples at once (a piece needs one sample)."""
    x, y, knots = np.asarray(x, float), np.asarray(y, float), np.asarray(knots, float)
    piece = np.searchsorted(knots, x, side="right")
    if not continuous:
        slopes, intercepts = [], []
        for i in range(len(knots) + 1):
            xs, ys = x[piece == i], y[piece == i]
            if len(np.unique(xs)) < 2:
                raise ValueError(f"config key 'metalearn.afunc_fit.knots': piece {i} of "
                                 f"{knots.tolist()} holds {len(xs)} sampled points; need 2")
            b, a = np.polyfit(xs, ys, 1)
            slopes.append(b)
            intercepts.append(a)
        return PiecewiseLinear(knots, slopes, intercepts)
    missing = [i for i in range(len(knots) + 1) if not np.any(piece == i)]
    if missing:
        raise ValueError(f"config key 'metalearn.afunc_fit.knots': pieces {missing} of "
                         f"{knots.tolist()} hold no sampled point")
    design = np.column_stack([np.ones_like(x), x] + [np.maximum(x - k, 0) for k in knots])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    slopes = coef[1] + np.concatenate([[0], np.cumsum(coef[2:])])
    intercepts = coef[0] - np.concatenate([[0], np.cumsum(coef[2:] * knots)])
    return PiecewiseLinear(knots, slopes, intercepts)


def final_samples(function):
    """The learned f at the last sampled outer step of afunc_function.csv: (step, x, y)."""
    if function.empty:
        raise ValueError("afunc_function.csv holds no sample of the learned function")
    last = function.outer_step.max()
    part = function[function.outer_step == last].sort_values("x")
    return int(last), part.x.to_numpy(float), part.y.to_numpy(float)


def evaluate_function(act, data, cfg, *, device="cpu", dtype=None):
    """Train one inner MLP with activation `act` (a function of a tensor) by the activation
    experiment's inner loop, from the initialisation and noise every activation of
    metalearn_afunc.evaluate_activation gets. Returns (losses, test accuracies per step).
    dtype None = float32."""
    import torch   # in the function that trains: the figure jobs and Snakemake start without it

    from mnist1d.experiments.afunc_kernels import test_accuracies

    dtype = torch.float32 if dtype is None else dtype
    x, y, x_test, y_test = to_tensors(data, device, dtype)
    params, noise = inner_init(cfg, x.shape[1], int(y.max()) + 1,
                               seed_for(cfg.seed, "afunc-evaluation"), device, dtype)
    losses, snaps = inner_run_plain(params, noise, x, y, act, cfg, differentiable=False,
                                    snapshots=True)
    accs = test_accuracies(snaps, noise, x_test[:cfg.test_examples], y_test[:cfg.test_examples],
                           act)
    return losses.cpu().numpy(), accs


def summary_row(name, losses, accs, loss_last):
    """One row of the activations' table (the columns of afunc_activations.csv)."""
    return {"activation": name, "mean_train_loss": float(losses.mean()),
            "mean_train_loss_last": float(losses[-loss_last:].mean()),
            "final_train_loss": float(losses[-1]), "final_test_acc": float(accs[-1]),
            "mean_test_acc": float(accs.mean())}


def fit_job(protocol, inputs, *, device="cpu", logger=None, dtype=None):
    """The metalearn_afunc_fit job (mnist1d.experiments: job functions): fit the learned f of
    the activation job's run (inputs "function": afunc_function.csv, "activations":
    afunc_activations.csv) by `protocol` (protocol_from_config), train with the fit on
    inputs["dataset"], tabulate.

    Returns "table" (the fitted f's row then afunc_activations.csv's rows (learned, baselines),
    with the fit's rms error on the samples), "pieces" (the fit's pieces), "samples" (x,
    learned, fitted) and "curves" (per-step rows of the fitted run). dtype None = float32 (the
    training with the fit; the fit itself is numpy's float64)."""
    log = logger.info if logger is not None else None
    function, activations, data = inputs["function"], inputs["activations"], inputs["dataset"]
    if log:
        log(f"knots {protocol['knots']}, continuous {protocol['continuous']} on {device}")
    cfg = AfuncConfig.from_dict(protocol["afunc"])
    step, xs, ys = final_samples(function)
    fit = fit_piecewise_linear(xs, ys, protocol["knots"], protocol["continuous"])
    fitted = fit(xs)
    rms = float(np.sqrt(np.mean((fitted - ys) ** 2)))
    losses, accs = evaluate_function(fit, data, cfg, device=device, dtype=dtype)
    row = summary_row("fitted", losses, accs, cfg.loss_last) | {"fit_rms": rms,
                                                                "outer_step": step}
    if log:
        log(f"fit of the learned f at outer step {step}: rms {rms:.4f}; trained: mean loss "
            f"{row['mean_train_loss']:.4f}, final test acc {row['final_test_acc']:.1f}")
    table = pd.concat([pd.DataFrame([row]), activations], ignore_index=True)
    samples = pd.DataFrame({"x": xs, "learned": ys, "fitted": fitted})
    curves = pd.DataFrame({"activation": "fitted", "inner_step": np.arange(len(losses)),
                           "train_loss": losses, "test_acc": accs})
    if log:
        log("\n" + table.to_string(index=False))
    return {"table": table, "pieces": fit.table(), "samples": samples, "curves": curves}


def plot_fit(table, samples, pieces, notebook_acc=NOTEBOOK_TEST_ACC):
    """Left: the learned f and its piecewise-linear fit; right: final test accuracy of the fitted
    f, the learned f and the baselines, all trained by the same inner loop."""
    from mnist1d import plotting
    from mnist1d.experiments.metalearn_afunc import BASELINE_COLORS

    plt = plotting.plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 1.2]})
    ax.plot(samples.x, samples.learned, color="k", lw=2.5, label="learned f (end of the run)")
    x = np.linspace(samples.x.min(), samples.x.max(), 2001)
    ax.plot(x, PiecewiseLinear(pieces.hi.to_numpy()[:-1], pieces.slope, pieces.intercept)(x),
            color="tab:orange", lw=1.5, ls="--", label="piecewise-linear fit")
    for k in pieces.hi.to_numpy()[:-1]:
        ax.axvline(k, color="tab:orange", lw=0.6, ls=":")
    ax.axhline(0, color="gray", lw=0.5)
    ax.set_xlim(samples.x.min(), samples.x.max())
    ax.set_xlabel("z")
    ax.set_ylabel("f(z)")
    rms = table.loc[table.activation == "fitted", "fit_rms"].iloc[0]
    ax.set_title(f"Fit over the learned function (rms {rms:.3f}; dotted: knots)")
    ax.legend(fontsize=8)

    order = table.sort_values("final_test_acc", ascending=False)
    colors = [{"fitted": "tab:orange"}.get(n, BASELINE_COLORS.get(n, "gray"))
              for n in order.activation]
    bx.bar(order.activation, order.final_test_acc, color=colors)
    for i, r in enumerate(order.itertuples()):
        bx.text(i, r.final_test_acc + 0.8, f"{r.final_test_acc:.1f}\n(loss {r.mean_train_loss:.2f})",
                ha="center", fontsize=7)
    bx.axhline(notebook_acc, color="tab:orange", lw=1, ls=":",
               label=f"notebook's fitted f: {notebook_acc} %")
    bx.set_ylim(0, min(100, max(order.final_test_acc.max(), notebook_acc) + 15))
    bx.set_ylabel("final test accuracy (%)")
    bx.set_title("Same inner loop, same init and noise (mean training loss in brackets)")
    bx.tick_params(axis="x", rotation=45)
    bx.legend(fontsize=8, loc="upper right")
    fig.suptitle("The metalearned activation, fitted piecewise-linearly and trained")
    fig.tight_layout()
    return fig
