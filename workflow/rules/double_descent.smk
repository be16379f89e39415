# Deep double descent (SPEC section 3): the label-noise datasets, one training job per group of
# model sizes and loss (a zero-padded ensemble of every size, noise level and seed in it, see
# mnist1d.experiments.double_descent), the table with the interpolation thresholds, the two figures.
import re

import mnist1d.experiments.double_descent as dd_lib

DD = config["double_descent"]
if DD["dataset"] not in config["datasets"]:
    raise ValueError(f"config key 'double_descent.dataset': dataset {DD['dataset']!r} is not in "
                     f"'datasets' ({sorted(config['datasets'])})")
if not any(arch in DD for arch in dd_lib.ARCHS):
    raise ValueError("config key 'double_descent': give at least one of 'mlp', 'cnn'")
DD_JOBS = {job["name"]: job for job in dd_lib.plan_jobs(DD)}
# Snakemake starts the most expensive jobs first (the long ones must not come last).
DD_PRIORITY = {name: rank for rank, name in
               enumerate(sorted(DD_JOBS, key=lambda name: dd_lib.job_cost(DD_JOBS[name])))}
DD_NOISES = sorted({noise for job in DD_JOBS.values() for noise in job["noises"]})

ALL_TARGETS.extend(["results/double_descent/double_descent.csv",
                    "results/double_descent/thresholds.csv",
                    "results/double_descent/summary.md"])
ALL_TARGETS.extend(figure("double_descent") + figure("double_descent_mse"))


wildcard_constraints:
    dd_job="|".join(DD_JOBS),
    dd_noise="|".join(re.escape(dd_lib.noise_tag(n)) for n in DD_NOISES),


def dd_noise_file(noise):
    return f"results/double_descent/data/noise{dd_lib.noise_tag(noise)}.npz"


rule dd_noisy_dataset:
    input:
        f"results/data/{DD['dataset']}.npz",
    output:
        "results/double_descent/data/noise{dd_noise}.npz",
    params:
        rate=lambda wildcards: float(wildcards.dd_noise),
        seed=DD["noise_seed"],
    log:
        "results/logs/double_descent/data_noise{dd_noise}.log",
    benchmark:
        "results/timing/double_descent/data_noise{dd_noise}.tsv"
    script:
        "../scripts/dd_noisy_dataset.py"


rule dd_train:
    input:
        lambda wildcards: [dd_noise_file(n) for n in DD_JOBS[wildcards.dd_job]["noises"]],
    output:
        "results/double_descent/runs/{dd_job}.csv",
    params:
        job=lambda wildcards: DD_JOBS[wildcards.dd_job],
        section=DD,
        device=config.get("device", "auto"),
        compile=config.get("compile", False),
    threads: job_threads("double_descent")
    resources:
        **job_resources("double_descent", gpu=True),
    group:
        job_group("double_descent")
    priority: lambda wildcards: DD_PRIORITY[wildcards.dd_job]
    log:
        "results/logs/double_descent/{dd_job}.log",
    benchmark:
        "results/timing/double_descent/{dd_job}.tsv"
    script:
        "../scripts/dd_train.py"


rule dd_aggregate:
    input:
        runs=expand("results/double_descent/runs/{dd_job}.csv", dd_job=DD_JOBS),
        data=f"results/data/{DD['dataset']}.npz",
    output:
        csv="results/double_descent/double_descent.csv",
        thresholds="results/double_descent/thresholds.csv",
        md="results/double_descent/summary.md",
        history="results/double_descent/history.csv",
    params:
        section=DD,
    log:
        "results/logs/double_descent/aggregate.log",
    benchmark:
        "results/timing/double_descent/aggregate.tsv"
    script:
        "../scripts/dd_aggregate.py"


rule dd_figures:
    input:
        csv="results/double_descent/double_descent.csv",
        thresholds="results/double_descent/thresholds.csv",
    output:
        report_figure("double_descent", "Double descent")
        + report_figure("double_descent_mse", "Double descent"),
    params:
        section=DD,
    log:
        "results/logs/double_descent/figures.log",
    benchmark:
        "results/timing/double_descent/figures.tsv"
    script:
        "../scripts/dd_figures.py"
