"""What the lottery jobs compute with: the names of methods, conditions and networks, the model,
the sparsity grid of the search, the seeds of the analysis, and each part's protocol from the
pipeline config (`protocol_from_config`, which the rule files call in Snakemake's own process:
no torch here).
"""
import numpy as np

from mnist1d import specs
from mnist1d.experiments.pieces import pieces_for

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
# Networks per ensemble of an analysis job (`analyse`'s group): speed only, each network computes
# the same numbers in any ensemble. A job trains one (trial, network) part, its five conditions:
# 15 trains them all at once (benchmarks/speed_lottery.py: with 2 threads all at once was fastest).
ANALYSIS_GROUP = 15
# On a GPU (config `jobs.pieces`: gpu) a job trains one network kind of every trial (5 conditions
# x trials networks), all in one ensemble up to this many networks (30 trials; the paper's 2 make
# 10). Measured (eager, on the CPU: growth of the resident memory while 20 steps at batch 500 and
# the evaluations of 4 000 and 1 000 examples train): 10 networks of width 500 0.3 GB, 50 0.7 GB,
# about 11 MB more per network, so 150 stay near 2 GB, far below a GPU's memory.
GPU_ANALYSIS_GROUP = 150
RANK_BY = ("layer", "tensor")
RANDOM_TICKETS = ("fresh", "nested")
INITS = ("fresh", "rewound")
SHUFFLES = ("notebook", "generator")


def protocol_from_config(config, part):
    """What the lottery `part` job ("search" or "analysis") computes with, from the whole
    pipeline config: the rule passes exactly this, with the job's own members and rounds added
    (mnist1d.experiments.lottery.jobs: search_plan, analysis_plan). The analysis's `group`
    (networks per ensemble) follows `jobs.pieces` (mnist1d.experiments.pieces)."""
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
                        group=ANALYSIS_GROUP if pieces_for(config, "lottery") == "cpu"
                        else GPU_ANALYSIS_GROUP)
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


def nearest_round(grid, sparsity):
    """The round of `grid` (target sparsity per round) nearest `sparsity`, the first on a tie."""
    return int(np.argmin(np.abs(np.asarray(grid) - sparsity)))


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
