"""The five lottery figures: the sweep, the analysis curves and finals, the adjacency bars and a
picture of first-layer masks. matplotlib is imported inside each function."""
import numpy as np

from mnist1d.experiments.lottery.analysis import unit_order
from mnist1d.experiments.lottery.protocol import (COLORS, CONDITION_LABELS, CONDITIONS, METHODS,
                                                  NETWORK_LABELS, NETWORKS, TICKET)
from mnist1d.experiments.lottery.tables import sweep_table


def plot_sweep(results):
    """Final test loss (log) and accuracy vs sparsity, both methods, dense line, trial bands."""
    import matplotlib.pyplot as plt

    sweep = sweep_table(results)
    dense = results[results["round"] == 0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric, label in ((axes[0], "test_loss", "final test loss"),
                              (axes[1], "test_acc", "final test accuracy (%)")):
        for method in METHODS:
            s = sweep[sweep.method == method]
            if s.empty:
                continue
            color = COLORS[TICKET[method]]
            ax.plot(100 * s.sparsity, s[f"{metric}_mean"], color=color,
                    label=NETWORK_LABELS[TICKET[method]] + (" (magnitude pruning)"
                                                            if method == "magnitude" else ""))
            ax.fill_between(100 * s.sparsity, s[f"{metric}_min"], s[f"{metric}_max"], color=color,
                            alpha=0.2, lw=0)
        ax.axhline(dense[metric].mean(), color=COLORS["dense"], ls="--", lw=1,
                   label=f"dense ({dense[metric].mean():.3g})")
        ax.set_xlabel("sparsity (% of parameters pruned)")
        ax.set_ylabel(label)
        ax.set_xlim(0, 100)
    axes[0].set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter
    axes[0].yaxis.set_major_formatter(FormatStrFormatter("%.1f"))
    axes[0].yaxis.set_minor_formatter(FormatStrFormatter("%.1f"))
    axes[1].legend(loc="lower left")
    trials = results.trial.nunique()
    fig.suptitle(f"Lottery tickets vs random tickets (MLP 40-500-500-10; mean of {trials} "
                 f"trial{'s' if trials > 1 else ''}, bands: min to max)")
    fig.tight_layout()
    return fig


def plot_asymptotes(history):
    """Test accuracy vs step for dense, random and lottery networks, one panel per condition."""
    import matplotlib.pyplot as plt

    conditions = [c for c in CONDITIONS if c in set(history.condition)]
    fig, axes = plt.subplots(1, len(conditions), figsize=(3.2 * len(conditions), 3.4), sharey=True,
                             squeeze=False)
    for ax, condition in zip(axes[0], conditions):
        h = history[history.condition == condition]
        for network in NETWORKS:
            g = h[h.network == network].groupby("step")["test_acc"]
            if not len(g):
                continue
            mean = g.mean()
            ax.plot(mean.index, mean.values, color=COLORS[network], label=NETWORK_LABELS[network])
            if h.trial.nunique() > 1:
                ax.fill_between(mean.index, g.min().values, g.max().values, color=COLORS[network],
                                alpha=0.2, lw=0)
        ax.set_title(CONDITION_LABELS[condition])
        ax.set_xlabel("training step")
    axes[0][0].set_ylabel("test accuracy (%)")
    lo = history.groupby(["condition", "network", "step"])["test_acc"].mean()
    axes[0][0].set_ylim(max(0, lo[lo.index.get_level_values("step") > 0].min() - 5), None)
    axes[0][-1].legend(loc="lower right")
    sp = history.sparsity.iloc[0]
    trials = history.trial.nunique()
    spread = f"mean of {trials} trials, bands: min to max" if trials > 1 else "one trial"
    fig.suptitle(f"Tickets at {100 * sp:.1f}% sparsity (round {history['round'].iloc[0]}) on a new "
                 f"dataset (seed 43): test accuracy vs step ({spread})")
    fig.tight_layout()
    return fig


def plot_adjacency(table):
    """p(n consecutive inputs kept) per hidden unit, lottery vs random, mean ± SE."""
    import matplotlib.pyplot as plt

    ns = sorted(set(table.n))
    trials = sorted(set(table.trial))
    fig, ax = plt.subplots(figsize=(8.0, 3.8))
    width = 0.8 / (2 * len(trials))
    i = 0
    for ticket in ("lottery", "random"):
        for trial in trials:
            t = table[(table.ticket == ticket) & (table.trial == trial)].sort_values("n")
            xs = np.arange(len(ns)) + (i - (2 * len(trials) - 1) / 2) * width
            ax.bar(xs, t["mean"], width, yerr=t["se"], capsize=3, color=COLORS[ticket],
                   alpha=1.0 if trial == trials[0] else 0.6,
                   label=f"{NETWORK_LABELS[ticket]}" + (f", trial {trial}" if len(trials) > 1 else ""))
            ax.plot(xs, t["chance"], "_", color="k", ms=18, mew=2,
                    label="chance given each unit's kept fraction" if i == 0 else None)
            if "notebook_mean" in t:
                ax.plot(xs, t["notebook_mean"], "x", color="0.3", ms=6, mew=1.5,
                        label="reference notebook's formula (published bars)" if i == 0 else None)
            i += 1
    ax.set_xticks(range(len(ns)), [f"{n} adjacent" for n in ns])
    ax.set_yscale("log")
    positive = [v for v in table["mean"] if v > 0]
    if positive:   # a mean of (almost) zero, e.g. no unit keeping 4 adjacent inputs, and its
        # error bar would stretch the log axis down to 1e-20
        ax.set_ylim(bottom=max(min(positive) / 10, 1e-6))
    ax.set_ylabel("p(all kept), per hidden unit (mean ± SE)")
    sp = table.sparsity.iloc[0]
    ax.set_title(f"First-layer masks at {100 * sp:.1f}% sparsity: consecutive kept inputs")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def plot_masks(store, round_, trial, units=100):
    """First-layer masks (inputs x hidden units), units sorted by adjacency; lottery vs random."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(10, 5.2), sharex=True)
    for ax, method in zip(axes, METHODS):
        m = store.masks(round_, trial, method)["linear1.weight"]     # (hidden, 40)
        order = unit_order(m)[:units]
        ax.imshow(m[order].T, aspect="auto", cmap="Greys", interpolation="nearest")
        ax.set_ylabel("input position")
        ax.set_title(f"{NETWORK_LABELS[TICKET[method]]}: {units} of {m.shape[0]} hidden units, "
                     f"most adjacent first (black: kept; {100 * m.mean():.1f}% of inputs kept)")
    axes[-1].set_xlabel("hidden unit (sorted by p(2 adjacent kept))")
    fig.suptitle(f"First-layer masks, round {round_} ({100 * store.sparsity[round_]:.1f}% sparse), "
                 f"trial {trial}")
    fig.tight_layout()
    return fig


def plot_summary(summary):
    """One panel: final test accuracy of dense, random and lottery networks in every condition."""
    import matplotlib.pyplot as plt

    conditions = [c for c in CONDITIONS if c in set(summary.condition)]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.27
    for i, network in enumerate(NETWORKS):
        g = summary[summary.network == network].groupby("condition")["test_acc"]
        mean = g.mean().reindex(conditions)
        err = np.vstack([mean - g.min().reindex(conditions), g.max().reindex(conditions) - mean])
        xs = np.arange(len(conditions)) + (i - 1) * width
        ax.bar(xs, mean, width, yerr=err if summary.trial.nunique() > 1 else None,
               color=COLORS[network], label=NETWORK_LABELS[network])
        tops = g.max().reindex(conditions) if summary.trial.nunique() > 1 else mean
        for x, v, top in zip(xs, mean, tops):
            ax.text(x, top + 0.4, f"{v:.1f}", ha="center", va="bottom", fontsize=7)
    short = {"baseline": "baseline", "flipped": "sequences\nflipped",
             "shuffled": "positions\nshuffled", "chunks": "chunks swapped\n(3, 4, 1, 2)",
             "reinit": "weights re-initialised,\nmask kept"}
    ax.set_xticks(range(len(conditions)), [short[c] for c in conditions], fontsize=9)
    lo = summary.test_acc.min()
    ax.set_ylim(max(0, lo - 10), min(100, summary.test_acc.max() + 5))
    ax.set_ylabel("final test accuracy (%)")
    sp = summary.sparsity.iloc[0]
    trials = summary.trial.nunique()
    spread = f"mean of {trials} trials, bars: min to max" if trials > 1 else "one trial"
    ax.set_title(f"Dense network, random ticket and lottery ticket ({100 * sp:.1f}% sparse) on a new "
                 f"dataset:\nfinal test accuracy per condition ({spread})")
    ax.legend(loc="upper right", ncols=3)
    fig.tight_layout()
    return fig
