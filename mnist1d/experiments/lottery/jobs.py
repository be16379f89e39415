"""The lottery's training jobs as job functions (mnist1d.experiments: one per job kind), what
workflow/scripts/lottery_search_segment.py and lottery_analysis_part.py run:

    segment_job   rules lottery_search_segment and sensitivity_lottery_search: `search`
    part_job      rules lottery_analysis_part and sensitivity_lottery_analysis_part: `analyse`

and what those jobs are, from the pipeline config (the rule files plan with these):

    search_plan       the search's segments (`search_segments`)
    segment_protocol  what one segment's job computes with
    analysis_plan     the analysis's parts

both in the pieces of config key `jobs.pieces` (mnist1d.experiments.pieces). The merge jobs
(lottery_search, lottery_analysis) only aggregate what these wrote, in the order of the one
ensemble of every member, whatever the pieces.
"""
import os
import shutil

from mnist1d.experiments.lottery.analysis import analyse, analysis_parts
from mnist1d.experiments.lottery.masks import SearchMasks
from mnist1d.experiments.lottery.protocol import NETWORKS, nearest_round, sparsity_grid
from mnist1d.experiments.lottery.pruning import (GPU_ROUNDS_PER_JOB, ROUNDS_PER_JOB, search,
                                                 search_segments)
from mnist1d.experiments.pieces import pieces_for


def analysis_round(config):
    """The search round the analysis trains (nearest lottery.analysis.sparsity)."""
    lot = config["lottery"]
    return nearest_round(sparsity_grid(lot["search"]["rounds"]), lot["analysis"]["sparsity"])


def search_plan(config):
    """The search's jobs (`search_segments`) from the pipeline config: with pieces "cpu" one
    (trial, method) member per job and a fresh random ticket's rounds in ROUNDS_PER_JOB chunks;
    with "gpu" every trial of a method per job and chunks of GPU_ROUNDS_PER_JOB. A lottery
    ticket's chain is cut after the analysed round either way."""
    section = config["lottery"]["search"]
    gpu = pieces_for(config, "lottery") == "gpu"
    return search_segments(section["trials"], section["methods"], section["rounds"],
                           section["random_ticket"], analysis_round(config),
                           rounds_per_job=GPU_ROUNDS_PER_JOB if gpu else ROUNDS_PER_JOB,
                           trials_together=gpu)


def segment_protocol(search_protocol, segment):
    """What the job of one search segment (an entry of `search_plan`) computes with: the search
    protocol narrowed to the segment's members and rounds."""
    return {**search_protocol, "trials": [int(t) for t in segment["trials"]],
            "methods": [segment["method"]], "first_round": segment["first"],
            "stop_round": segment["stop"]}


def analysis_plan(config):
    """{name: part} of the analysis's jobs from the pipeline config; a part is what the job's
    protocol["part"] holds. Pieces "cpu": one job per (trial, network), named {trial}_{network},
    part [trial, network] (its five conditions). Pieces "gpu": one job per network kind of every
    trial, named {network}_{trial}_{trial}..., part [[trial, network], ...]. The dense networks
    need no search; the lottery networks need the lottery ticket's chain only up to the
    analysed round."""
    trials = [int(t) for t in config["lottery"]["analysis"]["trials"]]
    if pieces_for(config, "lottery") == "cpu":
        return {f"{t}_{n}": [t, n] for t, n in analysis_parts(trials)}
    return {f"{n}_{'_'.join(str(t) for t in trials)}": [[t, n] for t in trials]
            for n in NETWORKS}


def segment_job(protocol, inputs, *, device="cpu", logger=None, checkpoint=None, dtype=None):
    """One job of the search: `search` of every (trial, method) of protocol["trials"] x
    protocol["methods"] (one member per job in the pipeline's pieces for the CPU, every trial of
    a method in its pieces for a GPU: `search_plan`), rounds protocol["first_round"] ..
    protocol["stop_round"] - 1 (where absent, as in protocol_from_config(config, "search"):
    every round) on inputs["dataset"].

    A segment that continues another (`search_segments`: its `after`) starts from the masks that
    one left: inputs["start"], its MaskStore. `checkpoint` (a folder; None: none) is resumed
    from when it holds rounds of this segment and written after every round; the caller
    removes it once the outputs are written (`remove_checkpoint`).
    Returns "history" (a row per round, member and evaluation) and "masks" (`SearchMasks`: the
    masks of the rounds trained and, where a later segment continues, of the round after;
    its `save(path)` writes the mask store)."""
    p = protocol
    first, stop = int(p.get("first_round", 0)), int(p.get("stop_round", p["rounds"]))
    start = inputs.get("start")
    if logger is not None:
        logger.info(f"search segment: trial {p['trials']} x method {p['methods']}, rounds "
                    f"{first}..{stop - 1} of {p['rounds']}"
                    f"{' from the masks of the segment before' if start is not None else ''}, "
                    f"{p['engine']}, device {device}, compile {p['compile']}, score_step "
                    f"{p['score_step']}, rank_by {p['rank_by']}, random_ticket "
                    f"{p['random_ticket']}; checkpoint {checkpoint}")
    history, packed, shapes, members, grid = search(
        inputs["dataset"], p["hidden"], p["engine"], p["trials"], p["methods"], p["rounds"],
        device=device, dtype=dtype, compile=p["compile"], checkpoint_dir=checkpoint,
        logger=logger, score_step=p["score_step"], rank_by=p["rank_by"],
        random_ticket=p["random_ticket"], first_round=first, stop_round=stop,
        start_masks=None if start is None else start.next_packed())
    trained = stop - first
    masks = SearchMasks(packed[:trained], shapes, members, grid, first,
                        packed[trained] if len(packed) > trained else None)
    return {"history": history, "masks": masks}


def remove_checkpoint(checkpoint):
    """Remove a finished segment's checkpoint folder, and the folder of checkpoints above it
    once it is empty (the last segment to finish leaves none; the others' are kept)."""
    shutil.rmtree(checkpoint, ignore_errors=True)
    try:
        os.rmdir(os.path.dirname(checkpoint))
    except OSError:
        pass


def part_job(protocol, inputs, *, device="cpu", logger=None, dtype=None):
    """One job of the analysis: `analyse` the networks of protocol["part"] ((trial, network),
    its five conditions, or a list of such pairs: `analysis_plan`; where absent, as in
    protocol_from_config(config, "analysis"): every network of every trial) in ensembles of
    protocol["group"] on inputs["dataset"], at the round of protocol["grid"] (the search's
    target sparsity per round; absent: the mask store's) nearest protocol["sparsity"].

    inputs["masks"]: the search's MaskStore (the random and lottery networks' masks; a part of
    dense networks needs none). Returns "history" (a row per network and evaluation)."""
    p = protocol
    part = p.get("part")
    if logger is not None:
        logger.info(f"analysis part {part}: {p}, device {device}")
    history, _ = analyse(
        inputs["dataset"], inputs.get("masks"), p["sparsity"], p["hidden"], p["engine"],
        p["trials"], p["reinit_seed"], p["shuffle_seed"], p["chunk_order"], group=p["group"],
        device=device, dtype=dtype, compile=p["compile"], logger=logger, init=p["init"],
        init_seed=p["init_seed"], shuffle=p["shuffle"], part=part, grid=p.get("grid"))
    return {"history": history}
