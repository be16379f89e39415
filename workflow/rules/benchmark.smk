# Benchmark (SPEC section 2): every model x dataset variant, all seeds as one ensemble per job;
# then the summary table and the benchmark figure.

BENCH = config["benchmark"]
for _variant, _dataset in BENCH["variants"].items():
    if _dataset not in config["datasets"]:
        raise ValueError(f"config key 'benchmark.variants.{_variant}': dataset {_dataset!r} is not "
                         f"in 'datasets' ({sorted(config['datasets'])})")

ALL_TARGETS.extend(["results/benchmark/benchmark.csv", "results/benchmark/benchmark.md"])
ALL_TARGETS.extend(figure("benchmark"))


wildcard_constraints:
    bench_model="|".join(BENCH["models"]),
    bench_variant="|".join(BENCH["variants"]),


rule benchmark_train:
    input:
        lambda wildcards: f"results/data/{BENCH['variants'][wildcards.bench_variant]}.npz",
    output:
        "results/benchmark/history_{bench_model}_{bench_variant}.csv",
    params:
        model=lambda wildcards: wildcards.bench_model,
        variant=lambda wildcards: wildcards.bench_variant,
        seeds=BENCH["seeds"],
        bench=BENCH,
        device=config.get("device", "auto"),
        compile=config.get("compile", False),
    threads: job_threads("benchmark")
    resources:
        **job_resources("benchmark", gpu=True),
    group:
        job_group("benchmark")
    log:
        "results/logs/benchmark/{bench_model}_{bench_variant}.log",
    benchmark:
        "results/timing/benchmark/{bench_model}_{bench_variant}.tsv"
    script:
        "../scripts/benchmark_train.py"


rule benchmark_summary:
    input:
        expand("results/benchmark/history_{bench_model}_{bench_variant}.csv",
               bench_model=BENCH["models"], bench_variant=BENCH["variants"]),
    output:
        csv="results/benchmark/benchmark.csv",
        md="results/benchmark/benchmark.md",
        history="results/benchmark/history.csv",
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    log:
        "results/logs/benchmark/summary.log",
    benchmark:
        "results/timing/benchmark/summary.tsv"
    script:
        "../scripts/benchmark_summary.py"


rule benchmark_figure:
    input:
        "results/benchmark/history.csv",
    output:
        report_figure("benchmark", "Benchmark"),
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    log:
        "results/logs/benchmark/figure.log",
    benchmark:
        "results/timing/benchmark/figure.tsv"
    script:
        "../scripts/benchmark_figure.py"
