# Pooling and sample efficiency (SPEC section 7, paper Fig. "pooling"): one job per pooling
# variant trains every dataset size and seed as one ensemble; then the summary and the figures.

POOL = config["pooling"]
for _key in ("datasets", "figure_datasets"):
    for _dataset in POOL[_key]:
        if _dataset not in config["datasets"]:
            raise ValueError(f"config key 'pooling.{_key}': dataset {_dataset!r} is not in "
                             f"'datasets' ({sorted(config['datasets'])})")

ALL_TARGETS.extend(["results/pooling/pooling.csv", "results/pooling/history.csv"])
ALL_TARGETS.extend(figure("pooling") + figure("pooling_all") + figure("pooling_final"))


wildcard_constraints:
    pool_variant="|".join(POOL["variants"]),


rule pooling_train:
    input:
        expand("results/data/{dataset}.npz", dataset=POOL["datasets"]),
    output:
        "results/pooling/history_{pool_variant}.csv",
    params:
        variant=lambda wildcards: wildcards.pool_variant,
        datasets=POOL["datasets"],
        pool=POOL,
        device=config.get("device", "auto"),
        compile=config.get("compile", False),
    threads: job_threads("pooling")
    resources:
        **job_resources("pooling", gpu=True),
    group:
        job_group("pooling")
    log:
        "results/logs/pooling/{pool_variant}.log",
    benchmark:
        "results/timing/pooling/{pool_variant}.tsv"
    script:
        "../scripts/pooling_train.py"


rule pooling_summary:
    input:
        expand("results/pooling/history_{pool_variant}.csv", pool_variant=POOL["variants"]),
    output:
        csv="results/pooling/pooling.csv",
        history="results/pooling/history.csv",
    log:
        "results/logs/pooling/summary.log",
    benchmark:
        "results/timing/pooling/summary.tsv"
    script:
        "../scripts/pooling_summary.py"


rule pooling_figures:
    input:
        history="results/pooling/history.csv",
        summary="results/pooling/pooling.csv",
    output:
        paper=report_figure("pooling", "Pooling"),
        all=report_figure("pooling_all", "Pooling"),
        final=report_figure("pooling_final", "Pooling"),
    params:
        figure_datasets=POOL["figure_datasets"],
        datasets=POOL["datasets"],
        smooth=POOL["smooth"],
    log:
        "results/logs/pooling/figures.log",
    benchmark:
        "results/timing/pooling/figures.tsv"
    script:
        "../scripts/pooling_figures.py"
