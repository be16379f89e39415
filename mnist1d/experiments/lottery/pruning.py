"""The search (`search`): iterative pruning of every (trial, method) member at once.

Round r trains the masked network from its initial weights for the protocol's steps and reports
its last evaluation; the weights at step `score_step` of the round (None: the last step) give the
scores of round r + 1, which drops the lowest-scoring entries to reach sparsity s_{r+1} of the
grid s = linspace(0, 1, rounds); the kept weights go back to their initial values and train
again. Three choices (the paper config uses the reference notebook lottery-tickets.ipynb's):
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
As jobs, the search is split into segments of one member (on a GPU: every trial of a method) and
a range of rounds each (`search_segments`), merged back into the search of every member at once
(`merge_segments`).
"""
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mnist1d import specs
from mnist1d.experiments.lottery.masks import next_masks, pack, unpack
from mnist1d.experiments.lottery.protocol import (METHODS, check_search_settings, sparsity_grid,
                                                  spec_of)
from mnist1d.io import atomic_path, write_csv, write_text


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
           first_round=0, stop_round=None, start_masks=None, cuda_graph=True):
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
    `cuda_graph`: on CUDA, replay the training step as one CUDA graph (train.GraphedStep).
    """
    import torch
    from mnist1d import models, train
    dtype = torch.float32 if dtype is None else dtype

    spec, protocol = spec_of(hidden), specs.protocol_of(protocol)
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
    # masks change in place per round, params and state are reset in place: a CUDA graph of
    # the step (cuda_graph, on CUDA) captured in round 0 replays in every round
    step_fn = train.graphed(train.make_step(spec, protocol, masks, compile), device, cuda_graph,
                            logger)
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


# --- the search as jobs: members and rounds in segments -----------------------------------------

# Rounds per job of a fresh random ticket, whose rounds are independent of each other: speed only
# (no number changes). Fewer rounds per job spread the rounds over more one-thread jobs, each of
# which loads the data and starts up once.
ROUNDS_PER_JOB = 25
# On a GPU (config `jobs.pieces`: gpu) a job starts up, initialises CUDA and compiles once for the
# whole ensemble: every trial of a method is one job, and a fresh random ticket's rounds come in
# chunks of 50 (at the paper's 100 rounds the chunk holding the analysed round 91 is done before
# the lottery ticket's chain gets there).
GPU_ROUNDS_PER_JOB = 50


def search_segments(trials, methods, rounds, random_ticket, analysis_round,
                    rounds_per_job=ROUNDS_PER_JOB, trials_together=False):
    """The search split into jobs of one method, its trials and a range of rounds each.

    Members never interact (member k computes the same numbers in any ensemble), so each
    (trial, method) can be its own job (trials_together False: the pieces for CPU cores), or
    every trial of a method one ensemble (True: the pieces for a GPU). A lottery ticket's rounds
    (and a nested random ticket's) form a chain: round r + 1 prunes round r's network. Its chain
    is cut once, after the round the analysis trains (`analysis_round`), so the analysis starts
    while the chain's last rounds still train. A fresh random ticket's rounds are independent:
    chunks of `rounds_per_job` rounds.
    Returns [{"name", "trials", "method", "first", "stop", "after"}] (rounds first..stop - 1 of
    the members trials x [method]; `after`: the segment whose last masks this one starts from,
    or None). Names: {method}_{trial}_{first:03d}-{last:03d}, every trial of the job in order.
    """
    if int(rounds_per_job) < 1:
        raise ValueError(f"rounds_per_job: must be >= 1, got {rounds_per_job}")
    trials = [int(t) for t in trials]
    jobs = ([(trials, method) for method in methods] if trials_together
            else [([trial], method) for trial in trials for method in methods])
    out = []
    for job_trials, method in jobs:
        independent = method == "random" and random_ticket == "fresh"
        if independent:
            bounds = list(range(0, rounds, int(rounds_per_job))) + [rounds]
        else:
            bounds = sorted({0, min(int(analysis_round) + 1, rounds), rounds})
        before = None
        for first, stop in zip(bounds, bounds[1:]):
            name = f"{method}_{'_'.join(str(t) for t in job_trials)}_{first:03d}-{stop - 1:03d}"
            out.append({"name": name, "trials": list(job_trials), "method": method,
                        "first": first, "stop": stop, "after": None if independent else before})
            before = name
    return out


def segment_with_round(segments, trial, method, round_):
    """The segment that trains `round_` of member (trial, method)."""
    for seg in segments:
        if (int(trial) in seg["trials"] and seg["method"] == method
                and seg["first"] <= round_ < seg["stop"]):
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

    spec, protocol = spec_of(hidden), specs.protocol_of(protocol)
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
