"""How an experiment's training is cut into jobs: pieces sized for CPU cores or for a GPU
(config key `jobs.pieces`).

The fan-out experiments train independent members (model sizes, seeds, (trial, method) searches,
analysis networks) as stacked ensembles, and a member computes the same numbers in any ensemble,
so how many members a job holds changes the speed only. Two sizings:

* "cpu": pieces for one-thread jobs that run side by side on the cores, of similar length (the
  double-descent groups of `MAX_GROUP_MACS`, one (trial, method) member per lottery search job,
  one (trial, network) per lottery analysis job);
* "gpu": larger pieces, since a GPU trains an ensemble of hundreds of these tiny models about as
  fast as one while every job pays its process start-up, CUDA initialisation and compile (one
  double-descent job per architecture and loss, every trial of a lottery search method in one
  job, every trial of an analysed network kind in one job).

"auto" (the default) picks "gpu" where the topic's training jobs ask for a GPU (`jobs.gpus` > 0
and the topic not `gpu: false` in `jobs.topics`), else "cpu". The sizing reaches the planners
through the config the rules read, so every job's protocol holds its members.
"""

PIECES = ("auto", "cpu", "gpu")


def topic_gpus(jobs, topic):
    """GPUs per training job of topic `topic` (a `jobs.topics` name) from the config's `jobs`
    section: `gpus` (0 where absent), or 0 where the topic's `jobs.topics` entry (over `default`)
    says `gpu: false`. What the rules ask for (mnist1d.pipeline.jobs.job_resources) and what
    "auto" pieces follow."""
    topics = jobs.get("topics") or {}
    settings = {**topics.get("default", {}), **topics.get(topic, {})}
    return int(jobs.get("gpus", 0)) if settings.get("gpu", True) else 0


def pieces_for(config, topic):
    """"cpu" or "gpu": the sizing of topic `topic`'s training jobs (a `jobs.topics` name, e.g.
    "double_descent", "lottery") from the whole pipeline config's `jobs` section; a config
    without one sizes for the CPU."""
    jobs = config.get("jobs") or {}
    value = jobs.get("pieces", "auto")
    if value not in PIECES:
        raise ValueError(f"config key 'jobs.pieces': {value!r} is not one of {PIECES}")
    if value != "auto":
        return value
    return "gpu" if topic_gpus(jobs, topic) > 0 else "cpu"
