# Benchmark (paper Fig. "benchmarks"): every model x dataset variant, all seeds as one ensemble per job
# (or one job per chunk of `seeds_per_job` seeds, mnist1d.experiments.seed_chunks); then the summary table
# and the benchmark figure.
import mnist1d.experiments.benchmark as benchmark_lib
import mnist1d.experiments.human as human_lib
import mnist1d.experiments.seed_chunks as seed_chunks_lib

BENCH = config["benchmark"]
BENCH_CHUNKS = list(seed_chunks_lib.chunks_of(BENCH, "benchmark"))
for _variant, _dataset in BENCH["variants"].items():
    require_datasets(f"benchmark.variants.{_variant}", _dataset)

ALL_TARGETS.extend([result("benchmark/benchmark.csv"), result("benchmark/benchmark.md")])
ALL_TARGETS.extend(figure("benchmark"))


wildcard_constraints:
    bench_model="|".join(BENCH["models"]),
    bench_variant="|".join(BENCH["variants"]),
    bench_chunk=seed_chunks_lib.wildcard_pattern(BENCH, "benchmark"),


rule benchmark_train:
    input:
        lambda wildcards: dataset_file(BENCH["variants"][wildcards.bench_variant]),
    output:
        history=result("benchmark/history_{bench_model}_{bench_variant}{bench_chunk}.csv"),
        predictions=result("benchmark/predictions_{bench_model}_{bench_variant}{bench_chunk}.csv"),
    log:
        result("logs/benchmark/{bench_model}_{bench_variant}{bench_chunk}.log"),
    benchmark:
        result("timing/benchmark/{bench_model}_{bench_variant}{bench_chunk}.tsv")
    group:
        job_group("benchmark")
    threads: job_threads("benchmark")
    resources:
        **job_resources("benchmark", gpu=True),
    params:
        protocol=lambda wildcards: benchmark_lib.protocol_from_config(
            config, wildcards.bench_model, wildcards.bench_variant, wildcards.bench_chunk
        ),
        device=config["device"],
    script:
        "../scripts/benchmark_train.py"


rule benchmark_summary:
    input:
        expand(
            result("benchmark/history_{bench_model}_{bench_variant}{bench_chunk}.csv"),
            bench_model=BENCH["models"],
            bench_variant=BENCH["variants"],
            bench_chunk=BENCH_CHUNKS,
        ),
    output:
        csv=result("benchmark/benchmark.csv"),
        md=result("benchmark/benchmark.md"),
        history=result("benchmark/history.csv"),
    log:
        result("logs/benchmark/summary.log"),
    benchmark:
        result("timing/benchmark/summary.tsv")
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    params:
        # the parameter count of a user's model: its entry of `models:`
        models={m: config["models"][m] for m in BENCH["models"] if m in config["models"]},
    script:
        "../scripts/benchmark_summary.py"


rule benchmark_figure:
    input:
        result("benchmark/history.csv"),
        human_quiz=str(human_lib.QUIZ_CSV),  # the human line (mnist1d.experiments.human)
    output:
        report_figure("benchmark", "Benchmark"),
    log:
        result("logs/benchmark/figure.log"),
    benchmark:
        result("timing/benchmark/figure.tsv")
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    script:
        "../scripts/benchmark_figure.py"
