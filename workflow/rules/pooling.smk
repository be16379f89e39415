# Pooling and sample efficiency (paper Fig. "pooling"): one job per pooling
# variant trains every dataset size and seed as one ensemble (or one job per variant and chunk of
# `seeds_per_job` seeds, mnist1d.experiments.seed_chunks); then the summary and the figures.
import mnist1d.experiments.pooling as pooling_lib
import mnist1d.experiments.seed_chunks as seed_chunks_lib

POOL = config["pooling"]
POOL_CHUNKS = list(seed_chunks_lib.chunks_of(POOL, "pooling"))
for _key in ("datasets", "figure_datasets"):
    require_datasets(f"pooling.{_key}", POOL[_key])

ALL_TARGETS.extend([result("pooling/pooling.csv"), result("pooling/history.csv")])
ALL_TARGETS.extend(figure("pooling") + figure("pooling_all") + figure("pooling_final"))


wildcard_constraints:
    pool_variant="|".join(POOL["variants"]),
    pool_chunk=seed_chunks_lib.wildcard_pattern(POOL, "pooling"),


rule pooling_train:
    input:
        [dataset_file(name) for name in POOL["datasets"]],
    output:
        history=result("pooling/history_{pool_variant}{pool_chunk}.csv"),
    log:
        result("logs/pooling/{pool_variant}{pool_chunk}.log"),
    benchmark:
        result("timing/pooling/{pool_variant}{pool_chunk}.tsv")
    priority: LONG_JOB_PRIORITY  # a variant trains every size: started last, it ran alone
    group:
        job_group("pooling")
    threads: job_threads("pooling")
    resources:
        **job_resources("pooling", gpu=True),
    params:
        protocol=lambda wildcards: pooling_lib.protocol_from_config(
            config, wildcards.pool_variant, wildcards.pool_chunk
        ),
        device=config["device"],
    script:
        "../scripts/pooling_train.py"


rule pooling_summary:
    input:
        expand(
            result("pooling/history_{pool_variant}{pool_chunk}.csv"),
            pool_variant=POOL["variants"],
            pool_chunk=POOL_CHUNKS,
        ),
    output:
        csv=result("pooling/pooling.csv"),
        history=result("pooling/history.csv"),
    log:
        result("logs/pooling/summary.log"),
    benchmark:
        result("timing/pooling/summary.tsv")
    script:
        "../scripts/pooling_summary.py"


rule pooling_figures:
    input:
        history=result("pooling/history.csv"),
        summary=result("pooling/pooling.csv"),
    output:
        paper=report_figure("pooling", "Pooling"),
        all=report_figure("pooling_all", "Pooling"),
        final=report_figure("pooling_final", "Pooling"),
    log:
        result("logs/pooling/figures.log"),
    benchmark:
        result("timing/pooling/figures.tsv")
    params:
        figure=pooling_lib.figure_settings(config),
    script:
        "../scripts/pooling_figures.py"
