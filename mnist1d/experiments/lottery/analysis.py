"""The analysis (`analyse`) and the spatial prior of the masks (`adjacency_table`).

At the round nearest the target sparsity, dense, random-ticket and lottery-ticket networks from
one initialisation train on a new dataset, on its original, flipped, position-shuffled and
chunk-swapped inputs, and with the mask kept but the weights re-initialised from another seed;
all of them as one ensemble with per-member inputs. `adjacency` measures the spatial prior of
first-layer masks: per hidden unit, the fraction of windows of n consecutive input positions
that are all kept.
"""
import numpy as np
import pandas as pd

from mnist1d.experiments import views
from mnist1d.experiments.lottery.protocol import (CONDITIONS, METHODS, NETWORKS, SHUFFLES, TICKET,
                                                  analysis_seeds, nearest_round, spec_of)


def notebook_permutation(length, seed):
    """The reference notebook's shuffle: np.random.seed(seed); np.random.permutation(length), i.e.
    NumPy's legacy Mersenne-Twister stream (a RandomState, so the global state is left alone)."""
    return np.random.RandomState(int(seed)).permutation(int(length))


def shuffle_permutation(length, seed, shuffle="generator"):
    """The fixed permutation of the shuffled condition: "notebook" (`notebook_permutation`) or
    "generator" (mnist1d.experiments.views.positions_permutation: NumPy's default_rng(seed))."""
    if shuffle == "notebook":
        return notebook_permutation(length, seed)
    if shuffle == "generator":
        return views.positions_permutation(length, seed)
    raise ValueError(f"lottery shuffle {shuffle!r} is not one of {SHUFFLES}")


def view_of(condition, shuffle_seed, chunk_order, length=40, shuffle="generator"):
    """The input rearrangement of a condition (a function of x), or None."""
    if condition == "flipped":
        return views.flip
    if condition == "shuffled":
        perm = shuffle_permutation(length, shuffle_seed, shuffle)
        return lambda x: views.shuffle_positions(x, perm)
    if condition == "chunks":
        return lambda x: views.swap_chunks(x, tuple(chunk_order))
    if condition in ("baseline", "reinit"):
        return None
    raise ValueError(f"lottery condition {condition!r} is not one of {CONDITIONS}")


def analysis_members(trials, conditions=CONDITIONS, networks=NETWORKS):
    return [(int(t), c, n) for t in trials for c in conditions for n in networks]


def analysis_setup(data, store, round_, hidden, members, seeds, shuffle_seed, chunk_order,
                   dtype=None, shuffle="generator"):
    """Stacked inputs, initial parameters and masks of every (trial, condition, network) member;
    seeds: `analysis_seeds`."""
    import torch
    from mnist1d import models
    dtype = torch.float32 if dtype is None else dtype

    spec = spec_of(hidden)
    xs, xts, inits, masks = [], [], [], []
    init_of = {}
    for trial, condition, network in members:
        seed = seeds[trial][1] if condition == "reinit" else seeds[trial][0]
        if seed not in init_of:
            init_of[seed] = models.init_params(spec, [seed], dtype)
        inits.append(init_of[seed])
        if network == "dense":
            masks.append({n: torch.ones_like(p[0]) for n, p in init_of[seed].items()})
        else:
            method = "magnitude" if network == "lottery" else "random"
            masks.append({n: torch.from_numpy(m).to(dtype)
                          for n, m in store.masks(round_, trial, method).items()})
        view = view_of(condition, shuffle_seed, chunk_order, data["x"].shape[-1], shuffle)
        xs.append(view(data["x"]) if view else data["x"])
        xts.append(view(data["x_test"]) if view else data["x_test"])
    stacked = {"x": np.stack(xs), "x_test": np.stack(xts), "y": data["y"], "y_test": data["y_test"]}
    params = {n: torch.cat([p[n] for p in inits]) for n in inits[0]}
    mask = {n: torch.stack([m[n] for m in masks]) for n in masks[0]}
    return stacked, params, mask


def analyse(data, store, sparsity=0.92, hidden=500, protocol=None, trials=(42,), reinit_seed=0,
            shuffle_seed=0, chunk_order=(2, 3, 0, 1), conditions=CONDITIONS, group=None,
            device="cpu", dtype=None, compile=False, logger=None, init="rewound",
            init_seed=100, shuffle="generator", part=None, grid=None):
    """Train every (trial, condition, network); returns (history, round).

    init, init_seed, reinit_seed: the initial weights (`analysis_seeds`); shuffle: the shuffled
    condition's permutation (`shuffle_permutation`).
    part: (trial, network) to train only that trial's networks of that kind (one job of
    `analysis_parts`), or a list of such pairs (`part_pairs`); the seeds still follow the
    trial's place in `trials`; store may then be None for dense networks, with `grid` (the
    search's target sparsity per round) giving the round.

    The networks train as ensembles of `group` members (None: all of them at once); grouping
    changes the speed only, never the result (each member is independent of the others).
    """
    import torch

    from mnist1d import train
    dtype = torch.float32 if dtype is None else dtype

    grid = store.sparsity if grid is None else np.asarray(grid)
    round_ = nearest_round(grid, sparsity)
    seeds = analysis_seeds(trials, init, init_seed, reinit_seed)
    members = analysis_members(trials, conditions)
    if part is not None:
        pairs = part_pairs(part)
        members = [m for m in members if (m[0], m[2]) in pairs]
        if not members:
            raise ValueError(f"analysis part {part}: no such trial and network")
    group = len(members) if group is None else int(group)
    if logger is not None:
        logger.info(f"analysis at round {round_} (target sparsity {grid[round_]:.4f}); "
                    f"{len(members)} networks in ensembles of {group}: {members}; init {init}, "
                    f"torch seeds (initial, re-initialised) per trial {seeds}; shuffle {shuffle} "
                    f"{shuffle_permutation(data['x'].shape[-1], shuffle_seed, shuffle).tolist()}")
    histories = []
    for first in range(0, len(members), group):
        chunk = members[first:first + group]
        stacked, params, masks = analysis_setup(data, store, round_, hidden, chunk, seeds,
                                                shuffle_seed, chunk_order, dtype, shuffle)
        history, _ = train.train(stacked, spec_of(hidden), protocol, seeds=list(range(len(chunk))),
                                 device=device, dtype=dtype, compile=compile, masks=masks,
                                 params=params, logger=logger)
        history = history.rename(columns={"seed": "member"})
        history.insert(0, "network", [chunk[k][2] for k in history["member"]])
        history.insert(0, "condition", [chunk[k][1] for k in history["member"]])
        history.insert(0, "trial", [chunk[k][0] for k in history["member"]])
        histories.append(history.drop(columns="member"))
    history = pd.concat(histories, ignore_index=True)
    history.insert(0, "sparsity", float(grid[round_]))
    history.insert(0, "round", round_)
    return history, round_


def part_pairs(part):
    """The (trial, network) pairs of an analysis part: (trial, network) or a list of them."""
    if part and isinstance(part[0], (list, tuple)):
        return [(int(t), n) for t, n in part]
    return [(int(part[0]), part[1])]


def analysis_parts(trials):
    """The analysis as jobs: one per (trial, network), its five conditions as one ensemble. The
    dense networks need no search; the lottery networks need the search's chain only up to the
    analysed round."""
    return [(int(t), n) for t in trials for n in NETWORKS]


def merge_analysis(histories, trials, conditions=CONDITIONS):
    """The analysis parts' histories as one, in the order `analyse` of all of them gives."""
    index = {m: k for k, m in enumerate(analysis_members(trials, conditions))}
    history = pd.concat(histories, ignore_index=True)
    key = np.array([index[(int(t), c, n)] for t, c, n in
                    zip(history.trial, history.condition, history.network)], dtype=np.int64)
    return history.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)


def analysis_summary(history):
    """Final test accuracy and loss per trial, condition and network."""
    last = history.loc[history.groupby(["trial", "condition", "network"])["step"].idxmax()]
    return last[["round", "sparsity", "trial", "condition", "network", "step", "test_acc",
                 "test_loss", "train_acc", "train_loss"]].reset_index(drop=True)


def adjacency(mask1, n):
    """Per hidden unit: the fraction of windows of n consecutive inputs that are all kept.

    mask1: (hidden, inputs) 0/1 first-layer mask -> (hidden,)."""
    m = np.asarray(mask1) > 0
    windows = np.stack([m[:, i:m.shape[1] - n + 1 + i] for i in range(n)]).all(0)
    return windows.mean(1)


def chance_adjacency(mask1, n):
    """Per hidden unit: p(n given inputs all kept) if its c kept inputs of L were placed at
    random, prod_{i<n} (c - i) / (L - i): the adjacency a unit would show without a spatial prior."""
    m = np.asarray(mask1) > 0
    c, L = m.sum(1).astype(np.float64), m.shape[1]
    out = np.ones_like(c)
    for i in range(n):
        out *= np.clip(c - i, 0, None) / (L - i)
    return out


def notebook_adjacency(mask1, n, last=None):
    """The reference notebook's adjacency statistic, per hidden unit: the number of windows of n
    consecutive kept inputs divided by the number of inputs L (not by the L - n + 1 windows).
    `last`: the mask whose entries make each window's last factor (None: mask1 itself); the
    notebook's 4-adjacency of the lottery ticket takes it from the random ticket's mask (a bug)."""
    m = (np.asarray(mask1) > 0).astype(np.float64)
    tail = m if last is None else (np.asarray(last) > 0).astype(np.float64)
    L = m.shape[1]
    prod = np.ones((m.shape[0], L - n + 1))
    for i in range(n):
        prod = prod * (tail if i == n - 1 else m)[:, i:L - n + 1 + i]
    return prod.sum(1) / L


def notebook_adjacency_note(n, length, buggy):
    """How the notebook's statistic behind the published bar differs from ours."""
    note = f"divides by the {length} inputs, not the {length - n + 1} windows"
    if buggy:
        note += ("; the last factor comes from the random ticket's mask (a bug), which lowers "
                 "the published bar")
    return note


def adjacency_table(store, round_, trials, ns=(2, 3, 4), layer="linear1.weight"):
    """Mean and standard error over hidden units of the adjacency of first-layer masks, the
    chance level, and beside them the notebook's formula on the same masks (`notebook_mean`,
    `notebook_se` with ddof 0 as the notebook; `notebook_differs` says how it differs)."""
    rows = []
    for trial in trials:
        have = {m: (int(trial), m) in store.members for m in METHODS}
        random_mask = store.masks(round_, trial, "random")[layer] if have["random"] else None
        for method in METHODS:
            if not have[method]:
                continue
            mask = store.masks(round_, trial, method)[layer]
            ticket = TICKET[method]
            for n in ns:
                p = adjacency(mask, n)
                buggy = ticket == "lottery" and n == 4 and random_mask is not None
                q = notebook_adjacency(mask, n, random_mask if buggy else None)
                rows.append({"round": round_, "sparsity": float(store.sparsity[round_]),
                             "trial": int(trial), "ticket": ticket, "n": int(n),
                             "mean": p.mean(), "se": p.std(ddof=1) / np.sqrt(len(p)),
                             "units": len(p), "kept_fraction": float(mask.mean()),
                             "chance": float(np.mean(chance_adjacency(mask, n))),
                             "notebook_mean": q.mean(), "notebook_se": q.std() / np.sqrt(len(q)),
                             "notebook_differs": notebook_adjacency_note(n, mask.shape[1], buggy)})
    return pd.DataFrame(rows)


def unit_order(mask1, n=2):
    """Hidden units sorted by adjacency (most adjacent first), then by how many inputs they keep."""
    m = np.asarray(mask1)
    return np.lexsort((-m.sum(1), -adjacency(m, n)))
