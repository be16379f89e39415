# The paper as a whole: every published number next to the reproduced one, and where the time
# went (every rule's benchmark file, collected). Included last: it reads the other rule files.

ALL_TARGETS.extend(
    [result("paper_comparison.csv"), result("paper_comparison.md"), result("timing.csv")]
    + figure("timing")
    + figure("timeline")
)

from snakemake.io import strip_wildcard_constraints

# Values of every wildcard used in a benchmark path, to list the benchmark files of `all`.
TIMING_WILDCARDS = {
    "dataset": list(config["datasets"]),
    "bench_model": BENCH["models"],
    "bench_variant": list(BENCH["variants"]),
    "bench_chunk": BENCH_CHUNKS,
    "pool_variant": POOL["variants"],
    "pool_chunk": POOL_CHUNKS,
    "dd_job": list(DD_JOBS),
    "dd_noise": [dd_lib.noise_tag(n) for n in DD_NOISES],
    "ssl_variant": SSL_VARIANTS,
    "segment": list(LOTTERY_SEGMENTS),
    "part": list(LOTTERY_PARTS),
}


def timing_files():
    """The benchmark file of every job of `all` (the timing rule's own excepted)."""
    files = []
    for r in workflow.rules:
        if not r.benchmark or r.name == "timing" or r.name in OUTSIDE_ALL_RULES:
            continue
        pattern = strip_wildcard_constraints(str(r.benchmark))
        names = set(r.wildcard_names)
        unknown = names - set(TIMING_WILDCARDS)
        if unknown:
            raise WorkflowError(
                f"rule {r.name}: benchmark wildcards {sorted(unknown)} have no values "
                "in TIMING_WILDCARDS (workflow/rules/paper.smk)"
            )
        files += expand(pattern, **{w: TIMING_WILDCARDS[w] for w in names}) if names else [pattern]
    return sorted(set(files))


rule paper_comparison:
    input:
        **({"human": result("human/human.csv")} if HUMAN else {}),  # needs the benchmark CNN
        benchmark=result("benchmark/benchmark.csv"),
        double_descent=result("double_descent/double_descent.csv"),
        dd_thresholds=result("double_descent/thresholds.csv"),
        lottery_search=result("lottery/search.csv"),
        lottery_analysis=result("lottery/analysis.csv"),
        lottery_adjacency=result("lottery/adjacency.csv"),
        metalearn_lr=result("metalearn/lr.csv"),
        metalearn_afunc=result("metalearn/afunc_activations.csv"),
        metalearn_afunc_steps=result("metalearn/afunc_steps.csv"),  # the outer objective
        pooling=result("pooling/pooling.csv"),
        tsne=result("tsne/baselines.csv"),
        ssl=result("ssl/ssl.csv"),
        afunc_fit=result("metalearn/afunc_fit.csv"),
    output:
        csv=report(
            result("paper_comparison.csv"),
            caption="../report/paper_comparison.rst",
            category="The paper, reproduced",
        ),
        md=result("paper_comparison.md"),
    log:
        result("logs/paper/comparison.log"),
    benchmark:
        result("timing/paper/comparison.tsv")
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    params:
        tolerances=config["comparison"],
        preset=config["preset"],
        reference_width=config["double_descent"]["reference_width"],
    script:
        "../scripts/paper_comparison.py"


def timing_patterns():
    """(log, benchmark) path patterns of every rule of `all` that has both: the timing job finds a
    job's inputs in Snakemake's records by its log, and names it by its benchmark file."""
    return [
        (strip_wildcard_constraints(str(r.log[0])), strip_wildcard_constraints(str(r.benchmark)))
        for r in workflow.rules
        if r.benchmark and r.log and r.name != "timing" and r.name not in OUTSIDE_ALL_RULES
    ]


rule timing:
    input:
        timing_files(),
    output:
        csv=result("timing.csv"),
        figure=report_figure("timing", "Timing"),
        timeline=report_figure("timeline", "Timing"),
    log:
        result("logs/paper/timing.log"),
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    params:
        patterns=timing_patterns(),
        metadata=".snakemake/metadata",  # Snakemake's records: each job's inputs (the DAG)
        cores=workflow.cores,
    script:
        "../scripts/timing.py"
