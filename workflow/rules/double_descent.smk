# Deep double descent (paper Fig. "double descent"): the label-noise datasets, one training job per group of
# model sizes and loss (a zero-padded ensemble of every size, noise level and seed in it, see
# mnist1d.experiments.double_descent; with `seeds_per_job`, one job per group and chunk of seeds),
# the table with the interpolation thresholds, the two figures.
import re

import mnist1d.experiments.double_descent as dd_lib

DD = config["double_descent"]
require_datasets("double_descent.dataset", DD["dataset"])
if not any(arch in DD for arch in dd_lib.ARCHS):
    raise WorkflowError("config key 'double_descent': give at least one of 'mlp', 'cnn'")
# The jobs in the pieces of config `jobs.pieces` (mnist1d.experiments.pieces: sized for CPU
# cores, or one job per architecture and loss for a GPU)
DD_JOBS = {job["name"]: job for job in dd_lib.jobs_from_config(config)}
# Snakemake starts the most expensive jobs first (the long ones must not come last).
DD_PRIORITY = {
    name: rank
    for rank, name in enumerate(sorted(DD_JOBS, key=lambda name: dd_lib.job_cost(DD_JOBS[name])))
}
DD_NOISES = sorted({noise for job in DD_JOBS.values() for noise in job["noises"]})

ALL_TARGETS.extend(
    [
        result("double_descent/double_descent.csv"),
        result("double_descent/thresholds.csv"),
        result("double_descent/summary.md"),
    ]
)
ALL_TARGETS.extend(figure("double_descent") + figure("double_descent_mse"))


wildcard_constraints:
    dd_job="|".join(DD_JOBS),
    dd_noise="|".join(re.escape(dd_lib.noise_tag(n)) for n in DD_NOISES),


def dd_noise_file(noise):
    return result(f"double_descent/data/noise{dd_lib.noise_tag(noise)}.npz")


rule dd_noisy_dataset:
    input:
        dataset_file(DD["dataset"]),
    output:
        result("double_descent/data/noise{dd_noise}.npz"),
    log:
        result("logs/double_descent/data_noise{dd_noise}.log"),
    benchmark:
        result("timing/double_descent/data_noise{dd_noise}.tsv")
    priority: DATA_PRIORITY
    params:
        rate=lambda wildcards: float(wildcards.dd_noise),
        # noise_seed only where it is used: with notebook noise it reruns nothing
        seed=DD["noise_seed"] if DD["label_noise"] == "seeded" else None,
        method=DD["label_noise"],
    script:
        "../scripts/dd_noisy_dataset.py"


rule dd_train:
    input:
        lambda wildcards: [dd_noise_file(n) for n in DD_JOBS[wildcards.dd_job]["noises"]],
    output:
        history=result("double_descent/runs/{dd_job}.csv"),
    log:
        result("logs/double_descent/{dd_job}.log"),
    benchmark:
        result("timing/double_descent/{dd_job}.tsv")
    priority: lambda wildcards: DD_PRIORITY[wildcards.dd_job]
    group:
        job_group("double_descent")
    threads: job_threads("double_descent")
    resources:
        **job_resources("double_descent", gpu=True),
    params:
        protocol=lambda wildcards: dd_lib.protocol_from_config(config, wildcards.dd_job),
        device=config["device"],
    script:
        "../scripts/dd_train.py"


rule dd_aggregate:
    input:
        runs=expand(result("double_descent/runs/{dd_job}.csv"), dd_job=DD_JOBS),
        data=dataset_file(DD["dataset"]),
    output:
        csv=result("double_descent/double_descent.csv"),
        thresholds=result("double_descent/thresholds.csv"),
        md=result("double_descent/summary.md"),
        history=result("double_descent/history.csv"),
    log:
        result("logs/double_descent/aggregate.log"),
    benchmark:
        result("timing/double_descent/aggregate.tsv")
    params:
        threshold_tolerance=DD["threshold_tolerance"],
        reference_width=DD["reference_width"],
        label_noise=dd_lib.label_noise_text(DD),
    script:
        "../scripts/dd_aggregate.py"


rule dd_figures:
    input:
        csv=result("double_descent/double_descent.csv"),
        thresholds=result("double_descent/thresholds.csv"),
    output:
        report_figure("double_descent", "Double descent")
        + report_figure("double_descent_mse", "Double descent"),
    log:
        result("logs/double_descent/figures.log"),
    benchmark:
        result("timing/double_descent/figures.tsv")
    script:
        "../scripts/dd_figures.py"
