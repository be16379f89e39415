"""What a pipeline job asks its executor for: threads, memory, runtime, GPUs, bundle.

The numbers come from config.yaml's `jobs` section (checked by workflow/schemas/jobs.schema.yaml);
workflow/rules/common.smk wraps these functions so that a rule says

    threads: job_threads("benchmark")
    resources: **job_resources("benchmark", gpu=True)
    group: job_group("benchmark")

Only rules that train pass gpu=True: plotting and aggregation never ask for a GPU.
How many members a training job holds (`jobs.pieces`: sized for the cores or for a GPU) is read by
the experiments' planners themselves, from the same section: mnist1d.experiments.pieces.
"""
from mnist1d.experiments.pieces import topic_gpus


def topic_settings(jobs, topic):
    """The `jobs.topics` entry of `topic` over the `default` entry (a topic may be unlisted)."""
    topics = jobs["topics"]
    return {**topics["default"], **topics.get(topic, {})}


def job_threads(jobs, topic):
    """CPU threads of one job of `topic`: 1 unless config.yaml says more."""
    return int(topic_settings(jobs, topic).get("threads", 1))


def job_resources(jobs, topic, gpu=False):
    """Snakemake resources of one job of `topic`.

    mem_mb and runtime (minutes) always; with gpu=True and `jobs.gpus` > 0 also the GPU request:
    `gpu` (and `gpu_model`) for the SLURM plugin's --gpus and for a workstation's `gpu` resource,
    or `gres` instead when config.yaml sets one (clusters that reject --gpus), and `gpu_slots`:
    how many jobs share one GPU at once (mnist1d.pipeline.device.claim_gpu). A topic whose
    `jobs.topics` entry says `gpu: false` stays on the CPU (where a measurement found the CPU
    faster for its jobs). A job without a GPU request says gpu=0, so `--resources gpu=N` never
    counts it.
    """
    settings = topic_settings(jobs, topic)
    resources = {"mem_mb": int(settings["mem_mb"]), "runtime": int(settings["runtime"])}
    gpus = topic_gpus(jobs, topic) if gpu else 0
    if gpus and jobs.get("gres"):
        resources["gres"] = jobs["gres"]
        # the job still knows how many GPUs it was given (mnist1d.pipeline.device reads `gpu`) ...
        resources["gpu_count"] = gpus
        return resources
    resources["gpu"] = gpus
    if gpus and jobs.get("gpu_model"):
        resources["gpu_model"] = jobs["gpu_model"]
    if gpus:
        resources["gpu_slots"] = int(jobs.get("gpu_slots", 1))
    return resources


def job_group(topic):
    """The Snakemake group of a topic's fan-out rule: profiles bundle a group's jobs with
    `--group-components GROUP=N` (profiles/slurm/config.yaml). Give it only to rules whose jobs
    are independent of each other (one per seed, size, dataset), never to their aggregation."""
    return f"{topic}_bundle"
