# Lottery tickets (paper Fig. "lottery"): the pruning search as one-thread jobs of one (trial, method)
# each (a lottery ticket's rounds are a chain, a fresh random ticket's independent chunks; every
# job checkpointed per round), merged into one history and mask store; the analysis at about 92 %
# sparsity as one job per (trial, network), merged; tables and five figures. With config
# `jobs.pieces` sizing for a GPU, every trial of a method is one search job and every trial of a
# network kind one analysis job (mnist1d.experiments.lottery.jobs: search_plan, analysis_plan).
import mnist1d.experiments.lottery as lottery_lib

LOT = config["lottery"]
# The lottery ticket's chain up to the analysed round, then the analysis of its lottery networks,
# is the pipeline's longest chain of jobs: it starts first (the double-descent jobs' priorities
# are 0 .. number of jobs); the other lottery jobs come next, longest first.
LONGEST_CHAIN_PRIORITY = 1000
LOTTERY_PRIORITY = 900
for _part in lottery_lib.PARTS:
    require_datasets(f"lottery.{_part}.dataset", LOT[_part]["dataset"])
_missing = set(LOT["analysis"]["trials"]) - set(LOT["search"]["trials"])
if (
    _missing
    or "magnitude" not in LOT["search"]["methods"]
    or "random" not in LOT["search"]["methods"]
):
    raise WorkflowError(
        "config key 'lottery.analysis.trials': every analysed trial must be "
        "searched (lottery.search.trials) with both methods (lottery.search.methods); "
        f"missing trials {sorted(_missing)}"
    )
if sorted(LOT["analysis"]["chunk_order"]) != list(
    range(len(LOT["analysis"]["chunk_order"]))
) or 40 % len(LOT["analysis"]["chunk_order"]):
    raise WorkflowError(
        "config key 'lottery.analysis.chunk_order': must be a permutation of "
        f"0..n-1 with n dividing 40, got {LOT['analysis']['chunk_order']}"
    )

try:
    LOTTERY_PROTOCOL = {
        _part: lottery_lib.protocol_from_config(config, _part) for _part in lottery_lib.PARTS
    }
except ValueError as error:
    raise WorkflowError(f"config key {error}") from None  # the message starts with the key

ALL_TARGETS.extend(
    result(f"lottery/{name}")
    for name in (
        "search.csv",
        "sweep.csv",
        "analysis.csv",
        "adjacency.csv",
        "targets.md",
        "analysis.md",
    )
)
for _name in (
    "lottery",
    "lottery_asymptotes",
    "lottery_adjacency",
    "lottery_masks",
    "lottery_summary",
):
    ALL_TARGETS.extend(figure(_name))


LOTTERY_ANALYSIS_ROUND = lottery_lib.analysis_round(config)
# The search's segments and the analysis's parts, in the pieces of config `jobs.pieces`
# (mnist1d.experiments.pieces: for CPU cores, or larger for a GPU).
LOTTERY_SEGMENTS = {s["name"]: s for s in lottery_lib.search_plan(config)}
LOTTERY_PARTS = lottery_lib.analysis_plan(config)


def lottery_segment_protocol(wildcards):
    """What one search job computes with: the search protocol for its members and rounds."""
    return lottery_lib.segment_protocol(
        LOTTERY_PROTOCOL["search"], LOTTERY_SEGMENTS[wildcards.segment]
    )


def lottery_segment_inputs(wildcards):
    seg = LOTTERY_SEGMENTS[wildcards.segment]
    inputs = {"data": dataset_file(LOT["search"]["dataset"])}
    if seg["after"]:
        inputs["start"] = result(f"lottery/search/{seg['after']}.npz")
    return inputs


def lottery_segment_priority(wildcards):
    seg = LOTTERY_SEGMENTS[wildcards.segment]
    on_chain = seg["method"] == "magnitude" and seg["first"] <= LOTTERY_ANALYSIS_ROUND < seg["stop"]
    return LONGEST_CHAIN_PRIORITY if on_chain else LOTTERY_PRIORITY


def lottery_part_priority(wildcards):
    pairs = lottery_lib.part_pairs(LOTTERY_PARTS[wildcards.part])
    on_chain = any(network == "lottery" for _, network in pairs)
    return LONGEST_CHAIN_PRIORITY if on_chain else LOTTERY_PRIORITY


def lottery_part_inputs(wildcards):
    inputs = {"data": dataset_file(LOT["analysis"]["dataset"])}
    segments = {
        lottery_lib.segment_with_round(
            LOTTERY_SEGMENTS.values(),
            trial,
            "magnitude" if network == "lottery" else "random",
            LOTTERY_ANALYSIS_ROUND,
        )["name"]
        for trial, network in lottery_lib.part_pairs(LOTTERY_PARTS[wildcards.part])
        if network != "dense"
    }
    if len(segments) > 1:  # the planners never make such a part: a job reads one mask store
        raise WorkflowError(
            f"lottery analysis part {wildcards.part}: its masks are in the search "
            f"segments {sorted(segments)}, not in one"
        )
    if segments:
        inputs["masks"] = result(f"lottery/search/{segments.pop()}.npz")
    return inputs


rule lottery_search_segment:
    input:
        unpack(lottery_segment_inputs),
    output:
        history=result("lottery/search/{segment}.csv"),
        masks=result("lottery/search/{segment}.npz"),
    log:
        result("logs/lottery/search_{segment}.log"),
    benchmark:
        result("timing/lottery/search_{segment}.tsv")
    wildcard_constraints:
        segment="|".join(LOTTERY_SEGMENTS),
    priority: lottery_segment_priority
    threads: job_threads("lottery")
    resources:
        **job_resources("lottery", gpu=True),
    params:
        protocol=lottery_segment_protocol,
        checkpoint=lambda wildcards: result(f"lottery/checkpoint/{wildcards.segment}"),
        device=config["device"],
    script:
        "../scripts/lottery_search_segment.py"


rule lottery_search:
    input:
        histories=[result(f"lottery/search/{name}.csv") for name in LOTTERY_SEGMENTS],
        masks=[result(f"lottery/search/{name}.npz") for name in LOTTERY_SEGMENTS],
    output:
        history=result("lottery/search_history.csv"),
        masks=result("lottery/masks.npz"),
    log:
        result("logs/lottery/search.log"),
    benchmark:
        result("timing/lottery/search.tsv")
    params:
        protocol=LOTTERY_PROTOCOL["search"],
    script:
        "../scripts/lottery_search_merge.py"


rule lottery_analysis_part:
    input:
        unpack(lottery_part_inputs),
    output:
        history=result("lottery/analysis/{part}.csv"),
    log:
        result("logs/lottery/analysis_{part}.log"),
    benchmark:
        result("timing/lottery/analysis_{part}.tsv")
    wildcard_constraints:
        part="|".join(LOTTERY_PARTS),
    priority: lottery_part_priority
    threads: job_threads("lottery")
    resources:
        **job_resources("lottery", gpu=True),
    params:
        protocol=lambda wildcards: {
            **LOTTERY_PROTOCOL["analysis"],
            "part": LOTTERY_PARTS[wildcards.part],
            "grid": lottery_lib.sparsity_grid(LOT["search"]["rounds"]).tolist(),
        },
        device=config["device"],
    script:
        "../scripts/lottery_analysis_part.py"


rule lottery_analysis:
    input:
        histories=[result(f"lottery/analysis/{part}.csv") for part in LOTTERY_PARTS],
        masks=result("lottery/masks.npz"),
    output:
        history=result("lottery/analysis_history.csv"),
        summary=result("lottery/analysis.csv"),
        adjacency=result("lottery/adjacency.csv"),
    log:
        result("logs/lottery/analysis.log"),
    benchmark:
        result("timing/lottery/analysis.tsv")
    params:
        protocol=LOTTERY_PROTOCOL["analysis"],
    script:
        "../scripts/lottery_analysis_merge.py"


rule lottery_tables:
    input:
        search=result("lottery/search_history.csv"),
        analysis=result("lottery/analysis.csv"),
        adjacency=result("lottery/adjacency.csv"),
    output:
        search=result("lottery/search.csv"),
        sweep=result("lottery/sweep.csv"),
        targets=result("lottery/targets.md"),
        analysis=result("lottery/analysis.md"),
    log:
        result("logs/lottery/tables.log"),
    benchmark:
        result("timing/lottery/tables.tsv")
    params:
        preset=config["preset"],
    script:
        "../scripts/lottery_tables.py"


rule lottery_figures:
    input:
        search=result("lottery/search.csv"),
        history=result("lottery/analysis_history.csv"),
        summary=result("lottery/analysis.csv"),
        adjacency=result("lottery/adjacency.csv"),
        masks=result("lottery/masks.npz"),
    output:
        sweep=report_figure("lottery", "Lottery tickets"),
        asymptotes=report_figure("lottery_asymptotes", "Lottery tickets"),
        adjacency=report_figure("lottery_adjacency", "Lottery tickets"),
        masks=report_figure("lottery_masks", "Lottery tickets"),
        summary=report_figure("lottery_summary", "Lottery tickets"),
    log:
        result("logs/lottery/figures.log"),
    benchmark:
        result("timing/lottery/figures.tsv")
    script:
        "../scripts/lottery_figures.py"
