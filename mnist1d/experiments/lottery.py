"""Lottery tickets (SPEC sections 4 and 10): the sparsity sweep and the spatial-prior analysis.

The model is the benchmark MLP (40 -> 500 -> 500 -> 10, residual second layer) with a 0/1 mask on
every weight and bias, applied in every forward pass (mnist1d.train's `masks`).

Search (`search`): round r trains the masked network from its initial weights for the protocol's
steps and reports its last evaluation; the weights at step `score_step` of the round (None: the
last step) give the scores of round r + 1, which drops the lowest-scoring entries to reach
sparsity s_{r+1} of the grid s = linspace(0, 1, rounds); the kept weights go back to their
initial values and train again. Three choices (SPEC section 10; the paper config uses the
reference notebook's):
- score_step: the notebook continues from the copy of the model kept at step 1 000 of a
  1 501-step round, so its scores are the magnitudes at step 1 000, not at the last step;
- rank_by: "layer" ranks one Linear layer's weight and bias as one vector and drops
  int(sparsity * len) of it (the notebook); "tensor" ranks every parameter tensor on its own and
  keeps round((1 - sparsity) * numel) of it;
- random_ticket: "fresh" draws new uniform scores over every parameter each round, so a pruned
  entry can come back and masks are not nested (the notebook); "nested" gives pruned entries the
  lowest score, so masks are nested.
Magnitude scores are |weight * mask|: pruned entries score lowest and, as the number dropped only
grows along the grid, the lottery ticket's masks are nested under every setting.
Every (trial, method) pair is one member of a single ensemble: the four searches of the paper
protocol (trials 42 and 43, both methods) train together as K = 4 stacked networks, and member k
computes what `search_plain` (one network, nn.Module + torch.optim.Adam) computes alone.
The search checkpoints after every round (`checkpoint_dir`); a killed run resumes at the last
finished round with identical results. Every round's masks are kept (bit-packed, compressed).

Analysis (`analyse`): at the round nearest the target sparsity, dense, random-ticket and
lottery-ticket networks from one initialisation train on a new dataset, on its original,
flipped, position-shuffled and chunk-swapped inputs, and with the mask kept but the weights
re-initialised from another seed; all of them as one ensemble with per-member inputs.
`adjacency` measures the spatial prior of first-layer masks: per hidden unit, the fraction of
windows of n consecutive input positions that are all kept.
"""
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mnist1d import specs, views
from mnist1d.io import atomic_path, write_csv, write_text

METHODS = ("magnitude", "random")
TICKET = {"magnitude": "lottery", "random": "random"}
CONDITIONS = ("baseline", "flipped", "shuffled", "chunks", "reinit")
CONDITION_LABELS = {"baseline": "baseline", "flipped": "sequences flipped",
                    "shuffled": "positions shuffled", "chunks": "chunks swapped (3, 4, 1, 2)",
                    "reinit": "re-initialised weights, mask kept"}
NETWORKS = ("dense", "random", "lottery")
NETWORK_LABELS = {"dense": "dense", "random": "random ticket", "lottery": "lottery ticket"}
COLORS = {"dense": "0.35", "random": "tab:blue", "lottery": "tab:red"}


def spec_of(hidden):
    return specs.spec_of({"name": "mlp", "hidden": int(hidden), "residual": True})


def sparsity_grid(rounds):
    """Target sparsity of every round: linspace(0, 1, rounds) (round 0 is the dense network)."""
    return np.linspace(0.0, 1.0, int(rounds))


PARTS = ("search", "analysis")
RANK_BY = ("layer", "tensor")
RANDOM_TICKETS = ("fresh", "nested")
INITS = ("fresh", "rewound")
SHUFFLES = ("notebook", "generator")


def protocol_from_config(config, part):
    """What the lottery `part` job ("search" or "analysis") computes with, from the whole
    pipeline config: the rule passes exactly this."""
    if part not in PARTS:
        raise ValueError(f"lottery part {part!r} is not one of {PARTS}")
    section = config["lottery"][part]
    protocol = {"hidden": config["lottery"]["hidden"], "trials": [int(t) for t in section["trials"]],
                "engine": specs.adam_in_order(section), "compile": specs.compile_for(config, "lottery")}
    if part == "search":
        protocol.update(methods=list(section["methods"]), rounds=section["rounds"],
                        score_step=section["score_step"], rank_by=section["rank_by"],
                        random_ticket=section["random_ticket"])
        check_search_settings(protocol["score_step"], protocol["rank_by"],
                              protocol["random_ticket"], section["steps"], "lottery.search.")
    else:
        protocol.update({key: section[key] for key in ("sparsity", "init", "init_seed",
                                                       "reinit_seed", "shuffle", "shuffle_seed",
                                                       "chunk_order", "adjacency")},
                        group=section.get("group"))
        analysis_seeds(protocol["trials"], protocol["init"], protocol["init_seed"],
                       protocol["reinit_seed"], "lottery.analysis.")     # checks the seeds
        if protocol["shuffle"] not in SHUFFLES:
            raise ValueError(f"lottery.analysis.shuffle: {protocol['shuffle']!r} is not one of "
                             f"{SHUFFLES}")
    return protocol



def check_search_settings(score_step, rank_by, random_ticket, steps, where=""):
    """Stops with a message naming the key when a search setting is not valid."""
    if score_step is not None and not (isinstance(score_step, (int, np.integer))
                                       and 0 <= int(score_step) <= int(steps)):
        raise ValueError(f"{where}score_step: {score_step!r} must be null or an integer step in "
                         f"0..{steps} (the round's steps)")
    if rank_by not in RANK_BY:
        raise ValueError(f"{where}rank_by: {rank_by!r} is not one of {RANK_BY}")
    if random_ticket not in RANDOM_TICKETS:
        raise ValueError(f"{where}random_ticket: {random_ticket!r} is not one of {RANDOM_TICKETS}")


def keep_count(numel, sparsity, rank_by="tensor"):
    """How many of `numel` ranked parameters are kept at `sparsity`: per tensor
    round((1 - sparsity) * numel); per layer (the notebook's get_mask) numel minus the
    int(sparsity * numel) lowest-scoring entries it drops."""
    if rank_by == "layer":
        return int(numel) - int(float(sparsity) * numel)
    return int(round((1.0 - float(sparsity)) * numel))


def ranking_units(names, rank_by):
    """The parameter names ranked together: one group per tensor, or per layer (the names with
    the same prefix before the last dot, e.g. linear1.weight and linear1.bias), in order."""
    if rank_by == "tensor":
        return [[n] for n in names]
    if rank_by != "layer":
        raise ValueError(f"rank_by {rank_by!r} is not one of {RANK_BY}")
    units = {}
    for n in names:
        units.setdefault(n.rsplit(".", 1)[0], []).append(n)
    return list(units.values())


def random_scores(shapes, seed, round_):
    """Uniform scores in [1, 2) for every tensor, from a generator of (trial seed, round)."""
    rng = np.random.default_rng([int(seed), int(round_)])
    return {name: 1.0 + rng.random(shape) for name, shape in shapes.items()}


def next_masks(params, masks, members, round_, sparsity, rank_by="tensor",
               random_ticket="nested"):
    """The masks of round `round_` (sparsity `sparsity`) from the scoring weights of the round
    before (its weights at score_step).

    params, masks: {name: (K, *shape)}; members: [(trial seed, method)] of the K members.
    Per member and ranking unit (`ranking_units`: a tensor, or a layer's weight and bias as one
    vector) the `keep_count` highest scores are kept; ties go to the lower index. Magnitude
    scores are |param * mask|, pruned entries score -1 (below every kept one, so the new mask is
    a subset of the old one: the notebook's pruned zeros are its lowest scores). Random scores are
    uniform from a generator of (trial, round): under "nested" pruned entries score -1 too; under
    "fresh" every entry gets a new score and a pruned one can come back, so round r's random
    ticket does not depend on any other round (the rounds are independent of each other).
    """
    import torch

    out = {}
    names = list(params)
    shapes = {name: tuple(p.shape[1:]) for name, p in params.items()}
    randoms = {k: random_scores(shapes, trial, round_)
               for k, (trial, method) in enumerate(members) if method == "random"}
    K = len(members)
    for unit in ranking_units(names, rank_by):
        sizes = [params[n][0].numel() for n in unit]
        numel = sum(sizes)
        keep = keep_count(numel, sparsity, rank_by)
        scores = torch.empty(K, numel, dtype=torch.float64)
        old = torch.cat([masks[n].reshape(K, -1).cpu() > 0 for n in unit], dim=1)
        for k, (trial, method) in enumerate(members):
            if method == "magnitude":
                scores[k] = torch.cat([(params[n][k].detach() * masks[n][k]).abs().reshape(-1)
                                       .double().cpu() for n in unit])
                scores[k][~old[k]] = -1.0
            elif method == "random":
                scores[k] = torch.cat([torch.from_numpy(randoms[k][n].reshape(-1)) for n in unit])
                if random_ticket == "nested":
                    scores[k][~old[k]] = -1.0
                elif random_ticket != "fresh":
                    raise ValueError(f"random_ticket {random_ticket!r} is not one of "
                                     f"{RANDOM_TICKETS}")
            else:
                raise ValueError(f"lottery method {method!r} is not one of {METHODS}")
        order = torch.argsort(scores, dim=1, descending=True, stable=True)
        new = torch.zeros(K, numel, dtype=params[unit[0]].dtype)
        new.scatter_(1, order[:, :keep], 1.0)
        for n, part in zip(unit, torch.split(new, sizes, dim=1)):
            out[n] = part.reshape(params[n].shape).to(params[n].device)
    return {n: out[n] for n in names}


# --- the mask store: every round's masks, bit-packed ---------------------------------------

def pack(mask):
    """(K, *shape) 0/1 -> (K, ceil(numel / 8)) uint8."""
    m = mask.detach().cpu().numpy().reshape(mask.shape[0], -1) > 0
    return np.packbits(m, axis=1)


def unpack(packed, shape):
    """(K, nbytes) uint8 -> (K, *shape) float32 0/1."""
    numel = int(np.prod(shape))
    bits = np.unpackbits(packed, axis=1, count=numel)
    return bits.reshape(packed.shape[0], *shape).astype(np.float32)


def save_mask_store(path, rounds_masks, shapes, members, sparsity, first_round=0, next_masks=None):
    """One compressed .npz with the masks of every round: mask/<name> (R, K, nbytes).

    A search segment (`search_segments`) stores its rounds first_round.. and, where a later
    segment continues it, the masks of the round after its last (next/<name>)."""
    arrays = {f"mask/{name}": np.stack([m[name] for m in rounds_masks]) for name in shapes}
    if first_round:
        arrays["first_round"] = np.array(int(first_round))
    if next_masks is not None:
        arrays.update({f"next/{name}": next_masks[name] for name in shapes})
    arrays.update({f"shape/{name}": np.array(shape) for name, shape in shapes.items()})
    arrays["names"] = np.array(list(shapes))
    arrays["trial"] = np.array([t for t, _ in members])
    arrays["method"] = np.array([m for _, m in members])
    arrays["sparsity"] = np.asarray(sparsity, dtype=np.float64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


class MaskStore:
    """Reads a mask store: `masks(round, trial, method)` -> {name: (*shape) float32 0/1}."""

    def __init__(self, path):
        if not Path(path).exists():
            raise FileNotFoundError(f"lottery mask store {path} does not exist")
        with np.load(path) as z:
            self.arrays = {k: z[k] for k in z.files}
        self.names = [str(n) for n in self.arrays["names"]]
        self.shapes = {n: tuple(int(s) for s in self.arrays[f"shape/{n}"]) for n in self.names}
        self.members = [(int(t), str(m)) for t, m in zip(self.arrays["trial"], self.arrays["method"])]
        self.sparsity = self.arrays["sparsity"]
        self.first = int(self.arrays.get("first_round", 0))
        self.rounds = self.first + self.arrays[f"mask/{self.names[0]}"].shape[0]

    def member(self, trial, method):
        try:
            return self.members.index((int(trial), method))
        except ValueError:
            raise KeyError(f"no search of trial {trial} with method {method!r} in the mask "
                           f"store (it has {self.members})") from None

    def masks(self, round_, trial, method):
        k = self.member(trial, method)
        if not self.first <= round_ < self.rounds:
            raise KeyError(f"round {round_} is not in this mask store (rounds {self.first} to "
                           f"{self.rounds - 1})")
        return {n: unpack(self.arrays[f"mask/{n}"][round_ - self.first, k:k + 1], self.shapes[n])[0]
                for n in self.names}

    def next_packed(self):
        """The packed masks {name: (K, nbytes)} of the round after the stored ones."""
        return {n: self.arrays[f"next/{n}"] for n in self.names}

    def nearest_round(self, sparsity):
        """The round whose target sparsity is nearest `sparsity` (the first on a tie)."""
        return nearest_round(self.sparsity, sparsity)


def nearest_round(grid, sparsity):
    """The round of `grid` (target sparsity per round) nearest `sparsity`, the first on a tie."""
    return int(np.argmin(np.abs(np.asarray(grid) - sparsity)))


# --- the search ---------------------------------------------------------------------------

def members_of(trials, methods):
    return [(int(t), m) for t in trials for m in methods]


def _fingerprint(spec, protocol, members, rounds, dtype, settings):
    return json.dumps({"spec": spec, "protocol": protocol, "members": members, "rounds": rounds,
                       "dtype": str(dtype), "settings": settings}, sort_keys=True, default=str)


def _load_checkpoint(directory, fingerprint, logger, first_round=0):
    state_file = Path(directory) / "state.json"
    if not state_file.exists():
        return None
    state = json.loads(state_file.read_text())
    if state.get("fingerprint") != fingerprint:
        if logger is not None:
            logger.info(f"checkpoint {directory} belongs to another setting; starting afresh")
        return None
    done = int(state["rounds_done"])
    packed = []
    for r in range(first_round, done + 1):
        path = Path(directory) / f"masks_{r:04d}.npz"
        if r == done and not path.exists():     # the search had finished: no next round
            break
        with np.load(path) as z:
            packed.append({k: z[k] for k in z.files})
    history = pd.read_csv(Path(directory) / "history.csv")
    history = history[history["round"] < done]
    return done, packed, history


def _save_masks(directory, round_, packed):
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / f"masks_{round_:04d}.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **packed)


def _save_checkpoint(directory, fingerprint, rounds_done, packed_next, history):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if packed_next is not None:
        _save_masks(directory, rounds_done, packed_next)
    write_csv(history, directory / "history.csv")
    write_text(json.dumps({"fingerprint": fingerprint, "rounds_done": rounds_done}),
               directory / "state.json")   # written last: the round counts only once it is there


def search(data, hidden=500, protocol=None, trials=(42, 43), methods=METHODS, rounds=100,
           device="cpu", dtype=None, compile=False, checkpoint_dir=None, logger=None,
           on_round=None, score_step=None, rank_by="tensor", random_ticket="nested",
           first_round=0, stop_round=None, start_masks=None):
    """Iterative pruning of every (trial, method) member at once.

    score_step, rank_by, random_ticket: see the module docstring and `next_masks` (the defaults
    are the scores of the last step, per-tensor ranking and nested random masks).
    first_round, stop_round: train rounds first_round .. stop_round - 1 only (a segment of the
    search, `search_segments`); a segment that does not start at round 0 starts from
    `start_masks` (packed, {name: (K, nbytes)}: the masks the segment before it left), except
    when every member is a fresh random ticket, whose masks depend on no other round.
    Members are independent of each other: member k's numbers are the same in any ensemble.

    Returns (history, masks, shapes, members, grid).
    history: one row per round, member and evaluation step: round, sparsity (target),
    kept (fraction of parameters kept), trial, method, step and the engine's metrics.
    masks: one {name: (K, nbytes) packed} per round (the masks that round trained with), from
    first_round on, and last the masks of round stop_round when it is not the last round;
    shapes: {name: shape of one member's tensor}; members: [(trial, method)]; grid: the target
    sparsity of every round.
    `on_round(r)` is called after round r is finished and checkpointed.
    """
    import torch
    from mnist1d import models, train
    dtype = torch.float32 if dtype is None else dtype

    spec, protocol = spec_of(hidden), train.protocol_of(protocol)
    members = members_of(trials, methods)
    device = torch.device(device)
    grid = sparsity_grid(rounds)
    tensors = train.as_tensors(data, device, dtype)
    init = models.init_params(spec, [t for t, _ in members], dtype, device)
    shapes = {name: tuple(p.shape[1:]) for name, p in init.items()}
    check_search_settings(score_step, rank_by, random_ticket, protocol["steps"])
    stop = rounds if stop_round is None else int(stop_round)
    if not 0 <= int(first_round) < stop <= rounds:
        raise ValueError(f"search rounds {first_round}..{stop}: not within 0..{rounds}")
    first_round = int(first_round)
    settings = {"score_step": score_step, "rank_by": rank_by, "random_ticket": random_ticket,
                "first_round": first_round, "stop_round": stop}
    fingerprint = _fingerprint(spec, protocol, members, rounds, dtype, settings)
    last_step = protocol["steps"] if score_step is None else int(score_step)

    masks = {name: torch.ones_like(p) for name, p in init.items()}
    if first_round > 0:
        if start_masks is not None:
            for name in masks:
                masks[name].copy_(torch.from_numpy(unpack(start_masks[name], shapes[name])))
        elif random_ticket == "fresh" and all(m == "random" for _, m in members):
            new = next_masks(init, masks, members, first_round, grid[first_round], rank_by,
                             random_ticket)
            for name in masks:
                masks[name].copy_(new[name])
        else:
            raise ValueError(f"search from round {first_round}: the masks of that round "
                             f"(start_masks) are needed")
    packed, history, start = [{n: pack(m) for n, m in masks.items()}], [], first_round
    if checkpoint_dir is not None:
        found = _load_checkpoint(checkpoint_dir, fingerprint, logger, first_round)
        if found is not None:
            start, packed, old = found
            history = [old] if len(old) else []
            for name in masks if start < stop else ():
                masks[name].copy_(torch.from_numpy(unpack(packed[start - first_round][name],
                                                          shapes[name])))
            if logger is not None:
                logger.info(f"resuming after round {start - 1} from {checkpoint_dir}")
        else:
            _save_masks(Path(checkpoint_dir), first_round, packed[0])
    params = {name: p.clone() for name, p in init.items()}
    state = train.init_state(params, protocol)
    step_fn = train.make_step(spec, protocol, masks, compile)   # masks change in place per round
    batches = train.Batches(tensors["x"], tensors["y"], protocol, [t for t, _ in members])
    numel = sum(p[0].numel() for p in init.values())

    t0 = time.perf_counter()
    for r in range(start, stop):
        with torch.no_grad():
            for name in params:
                params[name].copy_(init[name])
            for value in state.values():
                value.zero_()
        kept = (sum(m.reshape(len(members), -1).sum(1) for m in masks.values()) / numel)
        rows = []
        for step in range(protocol["steps"] + 1):
            xb, yb = batches(step)
            batch_loss = step_fn(params, state, xb, yb)
            if step == last_step:        # the weights that score the next round
                scoring = {name: (p * masks[name]).detach().clone() for name, p in params.items()}
            if step % protocol["eval_every"] == 0 or step == protocol["steps"]:
                train_loss, train_acc = train.evaluate(spec, params, tensors["x"], tensors["y"], masks)
                test_loss, test_acc = train.evaluate(spec, params, tensors["x_test"],
                                                     tensors["y_test"], masks)
                rows.append((step, torch.stack([train_loss, test_loss, train_acc, test_acc,
                                                batch_loss.double()])))
        frame = train.history_frame(rows, list(range(len(members)))).rename(columns={"seed": "member"})
        frame.insert(0, "method", [members[k][1] for k in frame["member"]])
        frame.insert(0, "trial", [members[k][0] for k in frame["member"]])
        frame.insert(0, "kept", kept.double().cpu().numpy()[frame["member"]])
        frame.insert(0, "sparsity", grid[r])
        frame.insert(0, "round", r)
        history.append(frame.drop(columns="member"))
        packed_next = None
        if r + 1 < rounds:
            new = next_masks(scoring, masks, members, r + 1, grid[r + 1], rank_by, random_ticket)
            for name in masks:
                masks[name].copy_(new[name])
            packed_next = {n: pack(m) for n, m in masks.items()}
            packed.append(packed_next)
        if checkpoint_dir is not None:
            _save_checkpoint(checkpoint_dir, fingerprint, r + 1, packed_next,
                             pd.concat(history, ignore_index=True))
        if logger is not None:
            last = frame[frame.step == protocol["steps"]]
            accs = " ".join(f"{t}/{m} {a:.1f}" for t, m, a in
                            zip(last.trial, last.method, last.test_acc))
            logger.info(f"round {r:3d}/{rounds - 1} sparsity {grid[r]:.3f}: test acc {accs}  "
                        f"({time.perf_counter() - t0:.1f} s)")
        if on_round is not None:
            on_round(r)
    return pd.concat(history, ignore_index=True), packed, shapes, members, grid


# --- the search as jobs: one member per job, the rounds in segments ---------------------------

def search_segments(trials, methods, rounds, random_ticket, analysis_round, rounds_per_job):
    """The search split into jobs of one (trial, method) member and a range of rounds each.

    Members never interact (member k computes the same numbers in any ensemble), so each is its
    own job. A lottery ticket's rounds (and a nested random ticket's) form a chain: round r + 1
    prunes round r's network. Its chain is cut once, after the round the analysis trains
    (`analysis_round`), so the analysis starts while the chain's last rounds still train. A fresh
    random ticket's rounds are independent: chunks of `rounds_per_job` rounds.
    Returns [{"name", "trial", "method", "first", "stop", "after"}] (rounds first..stop - 1;
    `after`: the segment whose last masks this one starts from, or None).
    """
    if int(rounds_per_job) < 1:
        raise ValueError(f"rounds_per_job: must be >= 1, got {rounds_per_job}")
    out = []
    for trial in trials:
        for method in methods:
            independent = method == "random" and random_ticket == "fresh"
            if independent:
                bounds = list(range(0, rounds, int(rounds_per_job))) + [rounds]
            else:
                bounds = sorted({0, min(int(analysis_round) + 1, rounds), rounds})
            before = None
            for first, stop in zip(bounds, bounds[1:]):
                name = f"{method}_{int(trial)}_{first:03d}-{stop - 1:03d}"
                out.append({"name": name, "trial": int(trial), "method": method, "first": first,
                            "stop": stop, "after": None if independent else before})
                before = name
    return out


def segment_with_round(segments, trial, method, round_):
    """The segment that trains `round_` of member (trial, method)."""
    for seg in segments:
        if (seg["trial"], seg["method"]) == (int(trial), method) and seg["first"] <= round_ < seg["stop"]:
            return seg
    raise KeyError(f"no search segment trains round {round_} of trial {trial}, {method}")


def merge_segments(parts, trials, methods, rounds):
    """The whole search from its segments: parts [(history, MaskStore)] -> (history, masks,
    shapes, members, grid) exactly as `search` of every member at once returns them (rows in its
    order: round, member, step; masks stacked in its member order)."""
    members = members_of(trials, methods)
    index = {m: k for k, m in enumerate(members)}
    history = pd.concat([h for h, _ in parts], ignore_index=True)
    key = history["round"].to_numpy() * len(members) + np.array(
        [index[(int(t), m)] for t, m in zip(history.trial, history.method)], dtype=np.int64)
    history = history.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
    stores = [store for _, store in parts]
    shapes, grid = stores[0].shapes, np.asarray(stores[0].sparsity)
    owner = {}
    for store in stores:
        for trial, method in store.members:
            for r in range(store.first, store.rounds):
                owner[(trial, method, r)] = store
    missing = [(t, m, r) for t, m in members for r in range(rounds) if (t, m, r) not in owner]
    if missing:
        raise ValueError(f"search segments: no segment holds round {missing[0][2]} of trial "
                         f"{missing[0][0]}, {missing[0][1]} ({len(missing)} rounds missing)")
    packed = []
    for r in range(rounds):
        rows = {}
        for name in shapes:
            rows[name] = np.stack([owner[(t, m, r)].arrays[f"mask/{name}"][
                r - owner[(t, m, r)].first, owner[(t, m, r)].member(t, m)] for t, m in members])
        packed.append(rows)
    return history, packed, shapes, members, grid


def final_results(history):
    """The last evaluation of every round and member."""
    last = history.loc[history.groupby(["round", "trial", "method"])["step"].idxmax()]
    return last.sort_values(["trial", "method", "round"]).reset_index(drop=True)


# --- the plain reference: one network, nn.Module and torch.optim ----------------------------

def search_plain(data, hidden, protocol, trial, method, rounds, dtype=None,
                 step_hook=None, score_step=None, rank_by="tensor", random_ticket="nested"):
    """The straightforward loop of one search: final (test loss, test accuracy) per round and
    the masks of every round; the next round's scores come from a copy of the weights taken
    after the update of step `score_step` (None: the last step). Masks multiply the module's parameters in every forward pass
    (torch.func.functional_call), Adam is torch.optim.Adam; the baseline of the benchmark and the
    reference of the equality tests."""
    import torch
    import torch.nn.functional as F
    from mnist1d import models, train
    dtype = torch.float32 if dtype is None else dtype

    spec, protocol = spec_of(hidden), train.protocol_of(protocol)
    t = train.as_tensors(data, "cpu", dtype)
    torch.manual_seed(trial)
    net = models.build(spec).to(dtype)
    init = {n: p.detach().clone() for n, p in net.named_parameters()}
    masks = {n: torch.ones_like(p) for n, p in init.items()}
    grid, out, all_masks, bs = sparsity_grid(rounds), [], [], protocol["batch_size"]

    def logits(x):
        return torch.func.functional_call(net, {n: p * masks[n] for n, p in net.named_parameters()},
                                          (x,))
    for r in range(rounds):
        all_masks.append({n: m.clone() for n, m in masks.items()})
        with torch.no_grad():
            for n, p in net.named_parameters():
                p.copy_(init[n])
        opt = torch.optim.Adam(net.parameters(), lr=protocol["lr"], betas=protocol["betas"],
                               eps=protocol["eps"])
        for step in range(protocol["steps"] + 1):
            start = (step * bs) % len(t["x"])
            loss = F.cross_entropy(logits(t["x"][start:start + bs]), t["y"][start:start + bs])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step == (protocol["steps"] if score_step is None else score_step):
                kept_copy = {n: p.detach().clone() for n, p in net.named_parameters()}
            if step_hook is not None:
                step_hook()
        with torch.no_grad():
            out_test = logits(t["x_test"])
            out.append({"round": r, "test_loss": F.cross_entropy(out_test, t["y_test"]).item(),
                        "test_acc": 100.0 * (out_test.argmax(-1) == t["y_test"]).double().mean().item()})
        if r + 1 < rounds:
            params = {n: p[None] for n, p in kept_copy.items()}
            new = next_masks(params, {n: m[None] for n, m in masks.items()}, [(trial, method)],
                             r + 1, grid[r + 1], rank_by, random_ticket)
            masks = {n: m[0] for n, m in new.items()}
    return pd.DataFrame(out), all_masks


# --- the analysis ---------------------------------------------------------------------------

def notebook_permutation(length, seed):
    """The reference notebook's shuffle: np.random.seed(seed); np.random.permutation(length), i.e.
    NumPy's legacy Mersenne-Twister stream (a RandomState, so the global state is left alone)."""
    return np.random.RandomState(int(seed)).permutation(int(length))


def shuffle_permutation(length, seed, shuffle="generator"):
    """The fixed permutation of the shuffled condition: "notebook" (`notebook_permutation`) or
    "generator" (mnist1d.views.positions_permutation: NumPy's default_rng(seed))."""
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


def analysis_seeds(trials, init="rewound", init_seed=100, reinit_seed=0, where=""):
    """{trial: (seed of the initialisation, seed of the re-initialised condition)}.

    Trial i (its position in `trials`) starts its dense, random and lottery networks from
    - init "rewound": the search's own initial weights (torch seed = the trial);
    - init "fresh": a new initialisation, torch seed init_seed + i (the notebook's analysis calls
      set_seed(42 + t), which does not seed torch, so its networks do not start from the search's
      weights; seeded here so that a run can be repeated);
    and the re-initialised condition ("mask kept, weights re-initialised") from torch seed
    reinit_seed + i (the notebook: set_seed(42 + t + 1), again a new initialisation).
    Stops naming the key when a seed would repeat the search's or the baseline's initialisation.
    """
    if init not in INITS:
        raise ValueError(f"{where}init: {init!r} is not one of {INITS}")
    out = {}
    for i, trial in enumerate(int(t) for t in trials):
        base = trial if init == "rewound" else int(init_seed) + i
        reinit = int(reinit_seed) + i
        if init == "fresh" and base in [int(t) for t in trials]:
            raise ValueError(f"{where}init_seed: {init_seed} gives trial {trial} the torch seed "
                             f"{base} of a search's initialisation; init: fresh needs another one")
        if reinit == base:
            raise ValueError(f"{where}reinit_seed: {reinit_seed} gives trial {trial}'s re-initialised "
                             f"condition its own initialisation (seed {base})")
        out[trial] = (base, reinit)
    return out


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
    `analysis_parts`; the seeds still follow the trial's place in `trials`); store may then be
    None for the dense networks, with `grid` (the search's target sparsity per round) giving
    the round.

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
        members = [m for m in members if (m[0], m[2]) == (int(part[0]), part[1])]
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
    """How the notebook's statistic behind the published bar differs from ours (SPEC 10)."""
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


# --- tables for the targets ------------------------------------------------------------------

def sweep_table(results):
    """Per round: mean and min..max over trials of the final test accuracy and loss per method."""
    g = results.groupby(["round", "sparsity", "method"])
    out = g.agg(kept=("kept", "mean"), test_acc_mean=("test_acc", "mean"),
                test_acc_min=("test_acc", "min"), test_acc_max=("test_acc", "max"),
                test_loss_mean=("test_loss", "mean"), test_loss_min=("test_loss", "min"),
                test_loss_max=("test_loss", "max"), trials=("trial", "nunique")).reset_index()
    return out


def analysis_means(summary):
    """Final test accuracy and loss per condition and network: mean over the trials, min, max and
    the spread (max - min) between them."""
    g = summary.groupby(["condition", "network"])
    out = g.agg(round=("round", "first"), sparsity=("sparsity", "first"),
                trials=("trial", "nunique"), test_acc_mean=("test_acc", "mean"),
                test_acc_min=("test_acc", "min"), test_acc_max=("test_acc", "max"),
                test_loss_mean=("test_loss", "mean")).reset_index()
    out["test_acc_spread"] = out.test_acc_max - out.test_acc_min
    order = {c: i for i, c in enumerate(CONDITIONS)}
    net = {n: i for i, n in enumerate(NETWORKS)}
    return out.sort_values(["condition", "network"], key=lambda c: c.map(order if c.name ==
                                                                          "condition" else net)
                           ).reset_index(drop=True)


def analysis_markdown(summary, adjacency_rows, protocol_note):
    """The analysis for a reader: final test accuracy averaged over trials with their spread, and
    the adjacency statistics, ours beside the notebook's formula (where the published bar differs
    and why)."""
    means = analysis_means(summary)
    trials = sorted(set(summary.trial))
    sp, r = float(summary.sparsity.iloc[0]), int(summary["round"].iloc[0])
    lines = [f"# Lottery tickets: analysis at round {r} ({100 * sp:.1f}% sparse; {protocol_note})",
             "", f"Final test accuracy (%), mean over trials {trials} [min, max]:", "",
             "| condition | " + " | ".join(NETWORK_LABELS[n] for n in NETWORKS) + " |",
             "|---|" + "---|" * len(NETWORKS)]
    for condition in [c for c in CONDITIONS if c in set(means.condition)]:
        cells = []
        for network in NETWORKS:
            row = means[(means.condition == condition) & (means.network == network)]
            if row.empty:
                cells.append("")
                continue
            row = row.iloc[0]
            cells.append(f"{row.test_acc_mean:.1f}" + (f" [{row.test_acc_min:.1f}, "
                                                       f"{row.test_acc_max:.1f}]"
                                                       if row.trials > 1 else ""))
        lines.append(f"| {CONDITION_LABELS[condition]} | " + " | ".join(cells) + " |")
    lines += ["", "First-layer masks: p(n consecutive inputs all kept) per hidden unit, mean ± SE "
              "over units. `ours`: the fraction of the 40 - n + 1 windows of n consecutive inputs "
              "that are all kept; `chance`: the same if each unit's kept inputs were placed at "
              "random. `notebook formula`: the reference notebook's statistic on the same masks "
              "(standard error with ddof 0), the one behind the published bar chart; it divides by "
              "the 40 inputs instead of the windows (slightly lower for both tickets) and, for the "
              "lottery ticket's 4-adjacency only, multiplies by the random ticket's mask in the last "
              "factor, so the published 4-adjacency bar of the lottery ticket is lower than the "
              "ticket's own value (SPEC section 10).", "",
              "| trial | ticket | n | ours | chance | notebook formula | how the published bar differs |",
              "|---|---|---|---|---|---|---|"]
    for a in adjacency_rows.itertuples(index=False):
        lines.append(f"| {a.trial} | {a.ticket} | {a.n} | {a.mean:.4f} ± {a.se:.4f} | "
                     f"{a.chance:.4f} | {a.notebook_mean:.4f} ± {a.notebook_se:.4f} | "
                     f"{a.notebook_differs} |")
    return "\n".join(lines) + "\n"


def check_targets(results, summary, adjacency_rows, low=0.5, high=0.95):
    """The issue's targets, each as (target, measured, met)."""
    rows = []
    sweep = sweep_table(results)
    wide = sweep.pivot(index="sparsity", columns="method", values="test_acc_mean")
    band = wide[(wide.index >= low - 1e-9) & (wide.index <= high + 1e-9)]
    if {"magnitude", "random"} <= set(wide.columns) and len(band):
        diff = band["magnitude"] - band["random"]
        rows.append((f"sweep: lottery > random test accuracy (mean over trials) at every sparsity "
                     f"{low:.0%}-{high:.0%}",
                     f"{(diff > 0).sum()}/{len(diff)} rounds; smallest margin {diff.min():+.2f} "
                     f"points at sparsity {diff.idxmin():.3f}", bool((diff > 0).all())))
    acc = summary.groupby(["condition", "network"])["test_acc"].mean()

    def get(c, n):
        return acc.get((c, n), np.nan)
    if not np.isnan(get("baseline", "lottery")):
        lb, db = get("baseline", "lottery"), get("baseline", "dense")
        rows.append(("analysis: lottery ends above dense on baseline data",
                     f"lottery {lb:.1f} vs dense {db:.1f}", bool(lb > db)))
        fl, sh = get("flipped", "lottery"), get("shuffled", "lottery")
        rows.append(("analysis: shuffling costs the lottery ticket more accuracy than flipping",
                     f"baseline {lb:.1f}, flipped {fl:.1f} (cost {lb - fl:+.1f}), shuffled {sh:.1f} "
                     f"(cost {lb - sh:+.1f})", bool(lb - sh > lb - fl)))
        ri, rd = get("reinit", "lottery"), get("baseline", "dense")
        rows.append(("analysis: re-initialised lottery ticket ends above dense",
                     f"re-initialised lottery {ri:.1f} vs dense {rd:.1f} (re-initialised dense "
                     f"{get('reinit', 'dense'):.1f})", bool(ri > rd)))
    a = adjacency_rows[adjacency_rows.n == 2]
    for trial in sorted(set(a.trial)):
        lot = a[(a.trial == trial) & (a.ticket == "lottery")].iloc[0]
        ran = a[(a.trial == trial) & (a.ticket == "random")].iloc[0]
        se = np.hypot(lot["se"], ran["se"])
        diff = lot["mean"] - ran["mean"]
        z = diff / se if se > 0 else (np.inf if diff > 0 else 0.0)
        rows.append((f"adjacency (trial {trial}): p(2 adjacent kept) lottery > random by > 3 SE",
                     f"lottery {lot['mean']:.4f} ± {lot['se']:.4f}, random {ran['mean']:.4f} ± "
                     f"{ran['se']:.4f}: difference {z:.1f} SE", bool(z > 3)))
    return pd.DataFrame(rows, columns=["target", "measured", "met"])


def targets_markdown(targets, protocol_note):
    lines = [f"# Lottery tickets: targets ({protocol_note})", "", "| target | measured | met |",
             "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else 'NO'} |" for t, m, ok in targets.itertuples(index=False)]
    return "\n".join(lines) + "\n"


# --- figures -----------------------------------------------------------------------------------

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
