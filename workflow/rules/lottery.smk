# Lottery tickets (SPEC section 4): the pruning search (all trials and methods as one ensemble,
# checkpointed every round), the analysis at about 92 % sparsity, tables and five figures.

LOT = config["lottery"]
# The search then the analysis is the pipeline's longest chain of jobs: start it before the
# double-descent jobs (their priorities are 0 .. number of jobs), so it does not come last.
LONGEST_CHAIN_PRIORITY = 1000
for _part in ("search", "analysis"):
    if LOT[_part]["dataset"] not in config["datasets"]:
        raise ValueError(f"config key 'lottery.{_part}.dataset': {LOT[_part]['dataset']!r} is not "
                         f"in 'datasets' ({sorted(config['datasets'])})")
_missing = set(LOT["analysis"]["trials"]) - set(LOT["search"]["trials"])
if _missing or "magnitude" not in LOT["search"]["methods"] or "random" not in LOT["search"]["methods"]:
    raise ValueError("config key 'lottery.analysis.trials': every analysed trial must be searched "
                     "(lottery.search.trials) with both methods (lottery.search.methods); "
                     f"missing trials {sorted(_missing)}")
if sorted(LOT["analysis"]["chunk_order"]) != list(range(len(LOT["analysis"]["chunk_order"]))) \
        or 40 % len(LOT["analysis"]["chunk_order"]):
    raise ValueError("config key 'lottery.analysis.chunk_order': must be a permutation of 0..n-1 "
                     f"with n dividing 40, got {LOT['analysis']['chunk_order']}")

ALL_TARGETS.extend([
    "results/lottery/search.csv",
    "results/lottery/sweep.csv",
    "results/lottery/analysis.csv",
    "results/lottery/adjacency.csv",
    "results/lottery/targets.md",
])
for _name in ("lottery", "lottery_asymptotes", "lottery_adjacency", "lottery_masks",
              "lottery_summary"):
    ALL_TARGETS.extend(figure(_name))


rule lottery_search:
    input:
        f"results/data/{LOT['search']['dataset']}.npz",
    output:
        history="results/lottery/search_history.csv",
        masks="results/lottery/masks.npz",
    params:
        search=LOT["search"],
        hidden=LOT["hidden"],
        checkpoint="results/lottery/checkpoint",
        device=config.get("device", "auto"),
        compile=config.get("compile", False),
    threads: job_threads("lottery")
    resources:
        **job_resources("lottery", gpu=True),
    priority: LONGEST_CHAIN_PRIORITY
    log:
        "results/logs/lottery/search.log",
    benchmark:
        "results/timing/lottery/search.tsv"
    script:
        "../scripts/lottery_search.py"


rule lottery_analysis:
    input:
        data=f"results/data/{LOT['analysis']['dataset']}.npz",
        masks="results/lottery/masks.npz",
    output:
        history="results/lottery/analysis_history.csv",
        summary="results/lottery/analysis.csv",
        adjacency="results/lottery/adjacency.csv",
    params:
        analysis=LOT["analysis"],
        hidden=LOT["hidden"],
        device=config.get("device", "auto"),
        compile=config.get("compile", False),
    threads: job_threads("lottery")
    resources:
        **job_resources("lottery", gpu=True),
    priority: LONGEST_CHAIN_PRIORITY
    log:
        "results/logs/lottery/analysis.log",
    benchmark:
        "results/timing/lottery/analysis.tsv"
    script:
        "../scripts/lottery_analysis.py"


rule lottery_tables:
    input:
        search="results/lottery/search_history.csv",
        analysis="results/lottery/analysis.csv",
        adjacency="results/lottery/adjacency.csv",
    output:
        search="results/lottery/search.csv",
        sweep="results/lottery/sweep.csv",
        targets="results/lottery/targets.md",
    params:
        preset=config["preset"],
    log:
        "results/logs/lottery/tables.log",
    benchmark:
        "results/timing/lottery/tables.tsv"
    script:
        "../scripts/lottery_tables.py"


rule lottery_figures:
    input:
        search="results/lottery/search.csv",
        history="results/lottery/analysis_history.csv",
        summary="results/lottery/analysis.csv",
        adjacency="results/lottery/adjacency.csv",
        masks="results/lottery/masks.npz",
    output:
        sweep=report_figure("lottery", "Lottery tickets"),
        asymptotes=report_figure("lottery_asymptotes", "Lottery tickets"),
        adjacency=report_figure("lottery_adjacency", "Lottery tickets"),
        masks=report_figure("lottery_masks", "Lottery tickets"),
        summary=report_figure("lottery_summary", "Lottery tickets"),
    log:
        "results/logs/lottery/figures.log",
    benchmark:
        "results/timing/lottery/figures.tsv"
    script:
        "../scripts/lottery_figures.py"
