# Lottery tickets (SPEC section 4): the pruning search (all trials and methods as one ensemble,
# checkpointed every round), the analysis at about 92 % sparsity, tables and five figures.
import mnist1d.experiments.lottery as lottery_lib

LOT = config["lottery"]
# The search then the analysis is the pipeline's longest chain of jobs: start it before the
# double-descent jobs (their priorities are 0 .. number of jobs), so it does not come last.
LONGEST_CHAIN_PRIORITY = 1000
for _part in lottery_lib.PARTS:
    require_datasets(f"lottery.{_part}.dataset", LOT[_part]["dataset"])
_missing = set(LOT["analysis"]["trials"]) - set(LOT["search"]["trials"])
if _missing or "magnitude" not in LOT["search"]["methods"] or "random" not in LOT["search"]["methods"]:
    raise WorkflowError("config key 'lottery.analysis.trials': every analysed trial must be "
                        "searched (lottery.search.trials) with both methods (lottery.search.methods); "
                        f"missing trials {sorted(_missing)}")
if sorted(LOT["analysis"]["chunk_order"]) != list(range(len(LOT["analysis"]["chunk_order"]))) \
        or 40 % len(LOT["analysis"]["chunk_order"]):
    raise WorkflowError("config key 'lottery.analysis.chunk_order': must be a permutation of "
                        f"0..n-1 with n dividing 40, got {LOT['analysis']['chunk_order']}")

try:
    LOTTERY_PROTOCOL = {_part: lottery_lib.protocol_from_config(config, _part)
                        for _part in lottery_lib.PARTS}
except ValueError as error:
    raise WorkflowError(f"config key {error}") from None   # the message starts with the key

ALL_TARGETS.extend(result(f"lottery/{name}")
                   for name in ("search.csv", "sweep.csv", "analysis.csv", "adjacency.csv",
                                "targets.md", "analysis.md"))
for _name in ("lottery", "lottery_asymptotes", "lottery_adjacency", "lottery_masks",
              "lottery_summary"):
    ALL_TARGETS.extend(figure(_name))


rule lottery_search:
    input:
        dataset_file(LOT["search"]["dataset"]),
    output:
        history=result("lottery/search_history.csv"),
        masks=result("lottery/masks.npz"),
    params:
        protocol=LOTTERY_PROTOCOL["search"],
        checkpoint=result("lottery/checkpoint"),
        device=config["device"],
    threads: job_threads("lottery")
    resources:
        **job_resources("lottery", gpu=True),
    priority: LONGEST_CHAIN_PRIORITY
    log:
        result("logs/lottery/search.log"),
    benchmark:
        result("timing/lottery/search.tsv")
    script:
        "../scripts/lottery_search.py"


rule lottery_analysis:
    input:
        data=dataset_file(LOT["analysis"]["dataset"]),
        masks=result("lottery/masks.npz"),
    output:
        history=result("lottery/analysis_history.csv"),
        summary=result("lottery/analysis.csv"),
        adjacency=result("lottery/adjacency.csv"),
    params:
        protocol=LOTTERY_PROTOCOL["analysis"],
        device=config["device"],
    threads: job_threads("lottery")
    resources:
        **job_resources("lottery", gpu=True),
    priority: LONGEST_CHAIN_PRIORITY
    log:
        result("logs/lottery/analysis.log"),
    benchmark:
        result("timing/lottery/analysis.tsv")
    script:
        "../scripts/lottery_analysis.py"


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
    params:
        preset=config["preset"],
    log:
        result("logs/lottery/tables.log"),
    benchmark:
        result("timing/lottery/tables.tsv")
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
