"""The masks of the search: how a round's masks follow from the scores of the round before
(`next_masks`), and the mask store that keeps every round's masks bit-packed (`save_mask_store`,
`MaskStore`; `SearchMasks`: what a search job returns for its store).
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist1d.experiments.lottery.protocol import METHODS, RANDOM_TICKETS, RANK_BY, nearest_round
from mnist1d.io import atomic_path


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


@dataclass(eq=False)
class SearchMasks:
    """The masks of a search or of one segment of it, as a search job returns them
    (`segment_job`'s "masks"): `save(path)` writes them as a mask store (`save_mask_store`).

    rounds: one {name: (K, nbytes) packed} per round trained, from first_round on; shapes:
    {name: shape of one member's tensor}; members: [(trial, method)]; sparsity: the target
    sparsity of every round of the search; next: the packed masks of the round after the last
    one trained, where a later segment continues from them (None: none)."""
    rounds: list
    shapes: dict
    members: list
    sparsity: np.ndarray
    first_round: int = 0
    next: dict | None = None

    def save(self, path):
        save_mask_store(path, self.rounds, self.shapes, self.members, self.sparsity,
                        self.first_round, self.next)


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
