"""Which training topics go to the GPU: one job of each, timed on the GPU and on one CPU core.

    PYTHONPATH=. python3 benchmarks/gpu_placement.py [--preset paper|quick|smoke]
        [--topics TOPIC ...] [--job TOPIC=NAME ...] [--devices cpu cuda] [--threads 1]
        [--margin 0.8] [--repeat 1] [--stop-at-decision on|off] [--ssl-probes on|off]
        [--inductor-cache run|user] [--run-limit-s 0] [--deadline-s 0] [--out DIR]
        [--write FILE] [--base profiles/gpu/jobs.yaml]

`snakemake --profile profiles/gpu all` sends every training job to the GPU unless its topic says
`gpu: false` (profiles/gpu/jobs.yaml; mnist1d.pipeline.jobs.job_resources). This script decides
that per topic by measurement. For each training topic it runs ONE job of the preset, the job the
pipeline runs (its rule's protocol, `protocol_from_config` of the topic's module), through the
job function a pipeline job calls, in a FRESH Python process per device, so that the job pays
what a pipeline job pays: the interpreter's start, the imports, CUDA's set-up and torch.compile's
compilation (with the preset's `compile` setting). Every process sets its threads as a pipeline
job (mnist1d.pipeline.device.set_threads(--threads): `jobs.topics.*.threads` is 1) and takes its
device as one (mnist1d.pipeline.device.job_device: a GPU slot claimed as under profiles/gpu, or
on the CPU denormals flushed to zero).

The topics (the rules files whose jobs ask for a GPU) and the job timed of each (--job TOPIC=NAME
picks another; the names are printed, and an unknown name lists them):

    benchmark        "MODEL VARIANT": the last model of benchmark.models on the first variant
                     (the paper's GRU on the normal data, the topic's longest job); the seeds of
                     the first chunk (seeds_per_job), all seeds by default
    pooling          the first pooling variant (every size x seed as one ensemble)
    double_descent   the job of double_descent.plan_jobs with the largest job_cost
    lottery          the first search segment: the lottery ticket of the first trial up to the
                     analysed round (the longest lottery job and the start of the pipeline's
                     longest chain; lottery.search_segments, as workflow/rules/lottery.smk)
    ssl              the training job (with its kNN and linear probes, CPU scikit-learn, as the
                     pipeline runs it; --ssl-probes off leaves them out)
    metalearn        "afunc", the activation metalearning (the topic's longest job); "lr" the
                     learning-rate one
    sweeps           the first value of the first sweep, first seed chunk (`snakemake sweeps`:
                     not part of `all`)

t-SNE trains nothing on the GPU (its rules never ask for one), nor do datasets, tables and
figures. The jobs are built by the builders of benchmarks/gpu_check_jobs.py (JOBS: one job's
call sequence exists once), on the preset's resolved configuration; the lottery segment and the
sweep job, which gpu_check does not run, through its `job_run` and `Job`.

What is timed. The wall time of each process, from its start to its exit, less its set-up: the
configuration, the topic's plan and the datasets made in memory (a pipeline job reads its dataset
from a file), and any wait for a GPU slot. Inside, the process
reports its split: startup (interpreter and imports), device (CUDA's context and a first
operation; 0 on the CPU), job (the job function's call: the training, evaluations and tables,
torch.compile's compiles included), of which compile (torch._dynamo's total compile wall time,
where torch reports it), and exit (the rest: tearing down). `--repeat N` runs each device N times,
alternating; the time kept is the fastest.

The order and the decision. The topics run in turn (--topics; default every one, the shortest
job first on one core: benchmark, ssl, pooling, double_descent, metalearn, lottery, sweeps); each
first on the second device of --devices (the candidate: cuda), then on the first (the
reference: cpu). The decision rule:

    GPU  if  candidate time < margin x reference time   (--margin, default 0.8)
    CPU  otherwise

i.e. the GPU must make the job at least 1 / margin = 1.25x faster. The margin hedges that a job
is timed alone, while in the pipeline `gpu_slots` (4) jobs share each GPU and each is slowed by
the others once the GPU is busy, whereas a CPU job has its core to itself. With
--stop-at-decision on (the default) the reference run is stopped once it has run for candidate /
margin seconds: the GPU has then won whatever the rest would take, and its time is shown as
"> T". Caveat, not in the rule: a node has 16 cores but runs only GPUs x gpu_slots = 4 GPU jobs
at once, so a topic with many independent jobs finishes sooner in total on the cores unless its
speed-up exceeds cores / (GPUs x gpu_slots) = 4, when nothing else needs the cores; the table
notes such topics. Placement by topic is what the profile can say (`jobs.topics.TOPIC.gpu`).

--devices cpu cpu (no GPU needed: how the script is tested) times the CPU against itself; the
decisions then mean nothing for a GPU and --write says so in its header.

Output: the table (topic, job, seconds on each device, speed-up, decision) and every run's
split on stdout; with --out DIR also gpu_placement.csv (one row per topic), gpu_placement_runs.csv
(one row per process) and each process's log under DIR/logs/. --write FILE writes a jobs.yaml
in the format of profiles/gpu/jobs.yaml: its `jobs` (gpus, gpu_slots, ... of --base, default
profiles/gpu/jobs.yaml) with `topics: {TOPIC: {gpu: false}}` for every topic where the CPU won
(a topic measured as GPU loses a `gpu: false` the base had; an unmeasured topic keeps the base's
entry), and a comment with the date, the machine, the preset, the rule and the numbers. It never
writes profiles/gpu/jobs.yaml unless that is the FILE named.

--deadline-s S (0: none) ends the run within S seconds: a running process is stopped (what it had
run still bounds its time from below, which may already decide its topic), the topics not
started are SKIPPED, and the table and files are written. --run-limit-s S stops any one process
after S seconds (its time then a lower bound: "> T"). benchmarks/gpu_node.sh --placement
runs it this way. --inductor-cache run (the default) gives this run's processes one fresh
torch.compile cache (Inductor and Triton), so the first process of a topic on each device compiles
cold, as the first job of each model on a new node; with --repeat 2 the second finds it warm, as
the topic's later jobs do. `user` keeps torch's own cache.
"""
import argparse
import copy
import csv
import dataclasses
import datetime
import json
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()
PROFILE_JOBS = REPO / "profiles" / "gpu" / "jobs.yaml"
# the topics whose rules ask for a GPU (workflow/rules/*.smk: job_resources(TOPIC, gpu=True)), in
# the order they run: shortest job first (on one core of the 2-core machine, paper preset), so
# that a deadline cuts the longest; sweeps (`snakemake sweeps`, not part of `all`) last
TOPICS = ("benchmark", "ssl", "pooling", "double_descent", "metalearn", "lottery", "sweeps")
DEFAULT_MARGIN = 0.8


# --- the child: one job of one topic on one device ---------------------------------------------

def first_chunk(config, topic):
    """The config with `topic`'s seeds cut to its first seed chunk (seeds_per_job), as that
    chunk's job trains them; the chunk's tag ("" for all seeds)."""
    from mnist1d.experiments import seed_chunks

    section = config[topic]
    tag, seeds = next(iter(seed_chunks.chunks_of(section, topic).items()))
    config = copy.deepcopy(config)
    config[topic]["seeds"] = list(seeds)
    config[topic]["seeds_per_job"] = None
    return config, tag


def lottery_jobs(config, options):
    """Every search segment that starts from nothing (the first of each chain, every chunk of a
    fresh random ticket), as the pipeline's lottery_search_segment jobs: the search protocol
    narrowed to the segment's member and rounds, as workflow/rules/lottery.smk passes it."""
    import gpu_check_jobs
    from mnist1d.experiments import lottery

    section = config["lottery"]
    search = lottery.protocol_from_config(config, "search")
    jobs = []
    for seg in lottery.search_plan(config):
        if seg["after"]:
            continue   # needs the masks of the segment before it
        protocol = lottery.segment_protocol(search, seg)
        run = gpu_check_jobs.job_run(lottery.segment_job, protocol,
                                lambda: {"dataset": options.datasets[section["search"]["dataset"]]},
                                dtype=gpu_check_jobs.run_dtype(options))
        steps = (seg["stop"] - seg["first"]) * (search["engine"]["steps"] + 1)
        jobs.append(gpu_check_jobs.Job(seg["name"], steps, run))
    return jobs


def sweep_jobs(config, options):
    """Every sweep_train job (sweep, value, seed chunk), as workflow/rules/sweeps.smk plans them
    (gpu_check_jobs.sweep_job)."""
    import gpu_check_jobs
    from mnist1d.experiments import sweeps

    return [gpu_check_jobs.sweep_job(config, options.datasets, options, name, text, chunk)
            for name in sweeps.names(config) for text in sweeps.value_texts(config, name)
            for chunk in sweeps.chunks(config, name)]


def topic_jobs(topic, config, datasets, options):
    """(the jobs of `topic` that can be timed alone, the name of the one timed by default)."""
    import gpu_check_jobs
    from mnist1d.experiments import double_descent

    options.datasets = datasets
    if topic in ("benchmark", "pooling"):
        chunked, tag = first_chunk(config, topic)
        jobs, _ = gpu_check_jobs.JOBS[topic](chunked, datasets, options)
        jobs = [dataclasses.replace(job, name=job.name + tag) for job in jobs]
        if topic == "benchmark":
            section = config["benchmark"]
            default = f"{section['models'][-1]} {next(iter(section['variants']))}{tag}"
        else:
            default = jobs[0].name
        return jobs, default
    if topic == "double_descent":
        jobs, _ = gpu_check_jobs.JOBS[topic](config, datasets, options)
        plan = double_descent.plan_jobs(config["double_descent"])
        return jobs, max(plan, key=double_descent.job_cost)["name"]
    if topic == "ssl":
        jobs, _ = gpu_check_jobs.JOBS["ssl"](config, datasets, options)
        return jobs, jobs[0].name
    if topic == "metalearn":
        afunc, _ = gpu_check_jobs.JOBS["metalearn_afunc"](config, datasets, options)
        lr, _ = gpu_check_jobs.JOBS["metalearn_lr"](config, datasets, options)
        return [dataclasses.replace(afunc[0], name="afunc"),
                dataclasses.replace(lr[0], name="lr")], "afunc"
    if topic == "lottery":
        jobs = lottery_jobs(config, options)
        return jobs, jobs[0].name
    if topic == "sweeps":
        jobs = sweep_jobs(config, options)
        return jobs, jobs[0].name
    raise ValueError(f"unknown topic {topic!r}; one of {', '.join(TOPICS)}")


def compile_seconds():
    """torch._dynamo's total compile wall time in this process (NaN where torch says nothing)."""
    if "torch._dynamo.utils" not in sys.modules:
        return 0.0   # nothing compiled (importing it here would cost the job time of its own)
    try:
        from torch._dynamo import utils
        return float(utils.calculate_time_spent().get("total_wall_time", 0.0))
    except Exception:
        return math.nan


def progress_path(result):
    return Path(str(result) + ".started")


def make_job_timer():
    """gpu_check.Timer that, when the job function's call first starts, writes the set-up time
    so far (from the imports' end, less the device's set-up) to the progress file, so that the
    parent can stop the process at a time that leaves the set-up out."""
    import gpu_check

    class JobTimer(gpu_check.Timer):
        def __init__(self, device, result, t_main, device_s):
            super().__init__(device)
            self.progress, self.t_main, self.device_s = progress_path(result), t_main, device_s
            self.setup_s = None

        def __call__(self):
            if self.setup_s is None:
                self.setup_s = time.time() - self.t_main - self.device_s
                self.progress.write_text(json.dumps({"setup_s": self.setup_s}))
            return super().__call__()
    return JobTimer


def child(args):
    """Run one job of args.child on args.device; write its split to args.result (JSON)."""
    import gpu_check
    import torch
    from speed_under_load import preset_config

    from mnist1d.pipeline import compare
    from mnist1d.pipeline.device import job_device, set_threads

    t_main = time.time()   # the imports above are the job's start-up, as a pipeline script's
    threads = set_threads(args.threads)
    log = logging.getLogger("gpu_placement")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    config = preset_config(args.preset)
    datasets = gpu_check.Datasets(config, log.info)
    options = argparse.Namespace(ssl_probes=args.ssl_probes, dtype="float32")
    jobs, default = topic_jobs(args.child, config, datasets, options)
    name = args.job or default
    by_name = {job.name: job for job in jobs}
    if name not in by_name:
        print(f"gpu_placement: {args.child} has no job {name!r}; its jobs: "
              f"{', '.join(repr(n) for n in by_name)}", file=sys.stderr)
        return 3
    job = by_name[name]
    # the device as a pipeline job takes it: a GPU slot claimed (profiles/gpu's 4 per GPU), or
    # on the CPU denormals flushed to zero (mnist1d.pipeline.device.job_device)
    resources = {"gpu": 1, "gpu_slots": 4} if args.device == "cuda" else {"gpu": 0}
    with job_device(args.device, resources, job=f"gpu_placement {args.child}") as device:
        t_device = time.time()
        if device.type == "cuda":   # the context and a first kernel, as the job's first step pays
            (torch.ones(8, device=device) * 2).sum().item()
            torch.cuda.synchronize(device)
        device_s = time.time() - t_device
        log.info(f"{args.child} / {name} on {device}, {threads} threads, preset {args.preset}")
        timer = make_job_timer()(device, args.result, t_main, device_s)
        job.run(device, timer, log)
    result = {
        "topic": args.child, "job": name, "device": str(device),
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                        else compare.cpu_model()),
        "torch": torch.__version__, "threads": threads,
        "startup_s": t_main - args.spawned_at,
        # the config, the jobs' plan and the datasets, made in memory (a pipeline job reads its
        # dataset from a file): outside the job's time
        "setup_s": timer.setup_s,
        "device_s": device_s, "job_s": timer.seconds, "compile_s": compile_seconds(),
        "steps": job.steps, "finished_at": time.time()}
    Path(args.result).write_text(json.dumps(result))
    log.info(f"done: job {timer.seconds:.2f} s")
    return 0


# --- the parent: the runs, the decisions, the table -------------------------------------------

@dataclasses.dataclass
class Run:
    """One process: `seconds` its time (wall less its datasets' making); `exact` False when it
    was stopped (at the decision or the deadline): its time is then more than `seconds`."""
    topic: str
    label: str
    repeat: int
    status: str            # done, decision / deadline / limit (stopped there), error
    seconds: float
    exact: bool
    wall_s: float
    split: dict


def run_process(topic, device, args, label, repeat, limit_s, cut_s, cache_dir, log_dir):
    """One job of `topic` in a fresh process on `device`. It is stopped after `limit_s` seconds
    of wall time (the deadline; None: never) or once its counted time (wall less its set-up)
    reaches `cut_s` (the decision; None: never). Returns (status: done, deadline, decision or
    error; its counted seconds; its wall seconds; the child's split, or {})."""
    result = Path(log_dir) / f"{topic}_{label.replace('#', '_')}_{repeat}.json"
    progress = progress_path(result)
    log_path = result.with_suffix(".log")
    for path in (result, progress):
        path.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(args.threads)   # as Snakemake sets them for a job
    if cache_dir:
        env["TORCHINDUCTOR_CACHE_DIR"] = str(Path(cache_dir) / "inductor")
        env["TRITON_CACHE_DIR"] = str(Path(cache_dir) / "triton")
    command = [sys.executable, str(SCRIPT), "--child", topic, "--device", device,
               "--preset", args.preset, "--threads", str(args.threads),
               "--ssl-probes", args.ssl_probes, "--result", str(result)]
    if args.job_of.get(topic):
        command += ["--job", args.job_of[topic]]
    setup_s, stopped = None, None
    with open(log_path, "w") as log:
        t0 = time.perf_counter()
        command += ["--spawned-at", repr(time.time())]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   cwd=REPO, start_new_session=True)
        while True:
            try:
                code = process.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            elapsed = time.perf_counter() - t0
            if setup_s is None and progress.exists():
                try:
                    setup_s = json.loads(progress.read_text())["setup_s"]
                except (ValueError, KeyError):
                    pass   # being written
            if limit_s is not None and elapsed >= limit_s:
                stopped = "deadline"
            elif cut_s is not None and setup_s is not None and elapsed - setup_s >= cut_s:
                stopped = "decision"
            if stopped:
                try:   # the job and any compile workers it started: its own process group
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
                break
        wall = time.perf_counter() - t0
    if stopped:
        # its counted time so far: the wall less the set-up (none counted while still setting up)
        return stopped, (wall - setup_s) if setup_s is not None else 0.0, wall, {}
    if code != 0 or not result.exists():
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        return "error", math.nan, wall, {"error": "\n".join(tail), "code": code}
    split = json.loads(result.read_text())
    split["exit_s"] = max(0.0, wall - split["startup_s"] - split["setup_s"] - split["device_s"]
                          - split["job_s"])
    return "done", wall - split["setup_s"], wall, split


def best(runs):
    """(seconds, exact) of a device's runs: the fastest finished run; else the longest stopped
    one as a lower bound; (NaN, False) when none ran."""
    done = [r.seconds for r in runs if r.status == "done"]
    if done:
        return min(done), True
    bounds = [r.seconds for r in runs if r.status in ("decision", "deadline", "limit")]
    return (max(bounds), False) if bounds else (math.nan, False)


def decide(reference, candidate, margin):
    """'GPU' (the candidate device), 'CPU' (the reference) or '?' from (seconds, exact) pairs:
    the candidate wins when its time < margin x the reference's; a lower bound decides where it
    already settles the inequality."""
    (a, a_exact), (b, b_exact) = reference, candidate
    if math.isnan(a) or math.isnan(b):
        return "?"
    if a_exact and b_exact:
        return "GPU" if b < margin * a else "CPU"
    if a_exact and not b_exact:
        return "CPU" if b >= margin * a else "?"
    if b_exact and not a_exact:
        return "GPU" if b <= margin * a else "?"
    return "?"


def seconds_text(value):
    seconds, exact = value
    if math.isnan(seconds):
        return "-"
    return f"{seconds:.1f}" if exact else f">{seconds:.1f}"


def speedup_text(reference, candidate):
    (a, a_exact), (b, b_exact) = reference, candidate
    if math.isnan(a) or math.isnan(b) or b <= 0 or (not a_exact and not b_exact):
        return "-"
    ratio = f"{a / b:.2f}"
    if a_exact and b_exact:
        return ratio
    return f">{ratio}" if not a_exact else f"<{ratio}"


def measure_topic(topic, args, devices, labels, started, cache_dir, log_dir, say):
    """The runs of one topic on every device, the candidate (the second) first; returns (runs,
    deadline hit)."""
    runs = {label: [] for label in labels}
    order = list(zip(devices, labels))[::-1]
    reference_label, candidate_label = labels[0], labels[-1]
    for repeat in range(args.repeat):
        for device, label in order:
            left = (args.deadline_s - (time.perf_counter() - started)) if args.deadline_s else None
            if left is not None and left <= 1:
                return runs, True
            if args.run_limit_s and (left is None or args.run_limit_s < left):
                left = args.run_limit_s
            cut = None
            candidate = best(runs[candidate_label])
            if (len(labels) == 2 and label == reference_label and args.stop_at_decision == "on"
                    and candidate[1]):
                cut = candidate[0] / args.margin
            status, seconds, wall, split = run_process(topic, device, args, label, repeat, left,
                                                       cut, cache_dir, log_dir)
            if status == "deadline" and args.run_limit_s and left == args.run_limit_s:
                status = "limit"
            exact = status == "done"
            run = Run(topic, label, repeat, status, seconds, exact, wall, split)
            runs[label].append(run)
            say(run_line(run))
            if status == "error":
                say("    " + split.get("error", "").replace("\n", "\n    "))
                return runs, False
            if status == "deadline":
                return runs, True
    return runs, False


def run_line(run):
    s = run.split
    text = f"  {run.topic:15s} {run.label:6s} #{run.repeat + 1} {run.status:8s} "
    if run.status == "done":
        return (text + f"{run.seconds:8.1f} s  (wall {run.wall_s:.1f}: startup "
                f"{s['startup_s']:.1f}, set-up {s['setup_s']:.1f} [not counted], device "
                f"{s['device_s']:.1f}, job {s['job_s']:.1f} of which compile "
                f"{s['compile_s']:.1f}, exit {s['exit_s']:.1f}) {s['job']!r}")
    if run.status in ("decision", "deadline", "limit"):
        why = {"decision": "once the decision was made", "deadline": "at the deadline",
               "limit": "at --run-limit-s"}[run.status]
        return text + f"{'>' + format(run.seconds, '.1f'):>8s} s  (stopped {why})"
    return text + "       - s"


def topic_row(topic, runs, labels, margin, job_name):
    times = [best(runs.get(label, [])) for label in labels]
    done = [r for label in labels for r in runs.get(label, []) if r.status == "done"]
    row = {"topic": topic, "job": next((r.split["job"] for r in done), job_name or "")}
    for label, (seconds, exact) in zip(labels, times):
        row.update({f"{label}_s": seconds, f"{label}_exact": exact})
    if len(labels) == 2:
        row.update(speedup=speedup_text(*times), decision=decide(*times, margin))
    else:
        row.update(speedup="-", decision="-")
    if not any(runs.get(label) for label in labels):
        row["decision"] = "SKIPPED"
    elif any(r.status == "error" for label in labels for r in runs.get(label, [])):
        row["decision"] = "ERROR" if row["decision"] in ("?", "-") else row["decision"]
    return row


def table_lines(rows, labels, slots_note):
    head = (f"{'topic':15s} {'job':34s} " + " ".join(f"{label + ' s':>10s}" for label in labels)
            + f" {'speed-up':>9s}  decision")
    lines = [head, "-" * len(head)]
    for row in rows:
        times = [(row[f"{label}_s"], row[f"{label}_exact"]) for label in labels]
        note = ""
        if row["decision"] == "GPU" and slots_note and times[0][1]:
            if times[0][0] < slots_note * times[1][0]:
                note = f"  (below {slots_note:g}x: see the caveat)"
        lines.append(f"{row['topic']:15s} {row['job'][:34]:34s} "
                     + " ".join(f"{seconds_text(t):>10s}" for t in times)
                     + f" {row['speedup']:>9s}  {row['decision']}{note}")
    return lines


def gpu_slots(base_path):
    """(gpus, gpu_slots) of a jobs.yaml (1 and 4, profiles/gpu's, where it says nothing)."""
    try:
        jobs = (yaml.safe_load(Path(base_path).read_text()) or {}).get("jobs") or {}
    except (OSError, yaml.YAMLError):
        jobs = {}
    return max(1, int(jobs.get("gpus") or 1)), max(1, int(jobs.get("gpu_slots") or 4))


def write_jobs_yaml(path, rows, base_path, header):
    """A jobs.yaml like profiles/gpu/jobs.yaml: the base's `jobs` with `gpu: false` for every
    topic where the CPU won; `header` lines become its comment."""
    base = yaml.safe_load(Path(base_path).read_text()) or {}
    jobs = copy.deepcopy(base.get("jobs") or {})
    topics = jobs.pop("topics", None) or {}
    for row in rows:
        entry = dict(topics.get(row["topic"]) or {})
        if row["decision"] == "CPU":
            entry["gpu"] = False
        elif row["decision"] == "GPU":
            entry.pop("gpu", None)
        else:
            continue
        topics[row["topic"]] = entry
    topics = {topic: entry for topic, entry in topics.items() if entry}
    if topics:
        jobs["topics"] = topics
    body = yaml.safe_dump(jobs, default_flow_style=True, sort_keys=False, width=10_000).strip()
    text = "".join(f"# {line}".rstrip() + "\n" for line in header) + f"jobs: {body}\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=("paper", "quick", "smoke"), default="paper")
    parser.add_argument("--topics", nargs="+", choices=TOPICS, metavar="TOPIC",
                        help=f"the topics timed, in this order (default: {' '.join(TOPICS)})")
    parser.add_argument("--job", action="append", default=[], metavar="TOPIC=NAME",
                        help="time this job of TOPIC instead of its default (repeatable)")
    parser.add_argument("--devices", nargs="+", choices=("cpu", "cuda"),
                        default=["cpu", "cuda"], metavar="DEVICE",
                        help="the reference and the candidate (default: cpu cuda; cpu cpu "
                             "without a GPU; one device: its times only, no decision)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads of every job (default 1: jobs.topics.*.threads)")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                        help="GPU when its time < margin x the CPU's (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="processes per device and topic; the fastest is kept (default 1)")
    parser.add_argument("--stop-at-decision", choices=("on", "off"), default="on",
                        help="stop the CPU run once the GPU has won (default on)")
    parser.add_argument("--ssl-probes", choices=("on", "off"), default="on",
                        help="the SSL job's probes, as the pipeline runs them (default on)")
    parser.add_argument("--inductor-cache", choices=("run", "user"), default="run",
                        help="run: one fresh torch.compile cache for this run (default); user: "
                             "torch's own")
    parser.add_argument("--run-limit-s", type=float, default=0.0,
                        help="stop any one process after this many seconds: its time is then "
                             "a lower bound (default 0: no limit)")
    parser.add_argument("--deadline-s", type=float, default=0.0,
                        help="end within this many seconds (default 0: no deadline)")
    parser.add_argument("--out", metavar="DIR", help="write the CSVs and the processes' logs here")
    parser.add_argument("--write", metavar="FILE",
                        help="write a jobs.yaml with gpu: false for the topics the CPU won")
    parser.add_argument("--base", metavar="FILE", default=str(PROFILE_JOBS),
                        help="the jobs.yaml whose settings --write keeps (default: "
                             "profiles/gpu/jobs.yaml)")
    # the child process
    parser.add_argument("--child", choices=TOPICS, help=argparse.SUPPRESS)
    parser.add_argument("--device", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if len(args.job) > 1:
            parser.error("a child runs one job")
        args.job = args.job[0] if args.job else None
        return args
    if not 0 < args.margin:
        parser.error("--margin must be positive")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if len(args.devices) > 2:
        parser.error("--devices takes one or two devices")
    if args.write and len(args.devices) != 2:
        parser.error("--write needs two devices to decide between")
    args.job_of = {}
    for item in args.job:
        topic, sep, name = item.partition("=")
        if not sep or topic not in TOPICS or not name:
            parser.error(f"--job {item!r}: TOPIC=NAME with TOPIC one of {', '.join(TOPICS)}")
        args.job_of[topic] = name
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child(args)
    started = time.perf_counter()
    if "cuda" in args.devices:
        import torch
        if not torch.cuda.is_available():
            print("gpu_placement: no CUDA device here; --devices cpu cpu times the CPU against "
                  "itself (a test of the script)")
            return 2
    sys.path.insert(0, str(REPO))       # gpu_check imports mnist1d (run without PYTHONPATH=.)
    from gpu_check import device_labels

    from mnist1d.pipeline import compare
    labels = device_labels(args.devices)
    topics = args.topics or list(TOPICS)
    with tempfile.TemporaryDirectory(prefix="gpu_placement_") as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        log_dir = out / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        cache_dir = Path(tmp) / "cache" if args.inductor_cache == "run" else None
        text = open(out / "gpu_placement.txt", "w") if args.out else None

        def say(line=""):
            print(line, flush=True)
            if text:
                text.write(line + "\n")
                text.flush()

        machine = f"{compare.cpu_model()}, {os.cpu_count()} CPUs"
        runs_text = (f"{labels[1]} (candidate) against {labels[0]} (reference)"
                     if len(labels) == 2 else f"{labels[0]} only")
        say(f"gpu_placement: preset {args.preset}, topics {' '.join(topics)}; {runs_text}, "
            f"{args.threads} thread(s) per job, "
            f"margin {args.margin:g}, repeat {args.repeat}, inductor cache {args.inductor_cache}"
            f"{f', deadline {args.deadline_s:g} s' if args.deadline_s else ''}; {machine}")
        all_runs, rows, deadline_hit = {}, [], False
        for topic in topics:
            if deadline_hit:
                runs = {}
            else:
                say(f"[{topic}] ({time.perf_counter() - started:.0f} s since start)")
                runs, deadline_hit = measure_topic(topic, args, args.devices, labels, started,
                                                   cache_dir, log_dir, say)
            all_runs[topic] = runs
            rows.append(topic_row(topic, runs, labels, args.margin, args.job_of.get(topic)))
        gpu_name = next((r.split.get("device_name") for runs in all_runs.values()
                         for label in labels for r in runs.get(label, [])
                         if r.split.get("device", "").startswith("cuda")), None)
        torch_version = next((r.split.get("torch") for runs in all_runs.values()
                              for label in labels for r in runs.get(label, [])
                              if r.split.get("torch")), "?")
        slots_note = None
        if "cuda" in args.devices:
            gpus, slots = gpu_slots(args.base)
            cores = os.cpu_count() or 1
            slots_note = cores / (gpus * slots)
        say("")
        say(f"gpu_placement: {args.preset} preset; seconds per job = its process's wall time less "
            f"making its datasets (startup, CUDA set-up and compile included); '>' a run "
            f"stopped (at the decision, --run-limit-s or the deadline)"
            + (f"; speed-up = {labels[0]} / {labels[1]}; decision: GPU when {labels[1]} < "
               f"{args.margin:g} x {labels[0]}, else CPU" if len(labels) == 2 else ""))
        lines = table_lines(rows, labels, slots_note)
        for line in lines:
            say(line)
        if slots_note:
            say(f"caveat: {cores} cores run {cores // args.threads} {args.threads}-thread jobs at "
                f"once, {gpus} GPU(s) x gpu_slots {slots} run {gpus * slots}: a topic of many "
                f"jobs finishes sooner in total on the GPU only above {slots_note:g}x, when "
                f"nothing else needs the cores")
        if "cuda" not in args.devices and len(labels) == 2:
            say(f"(no GPU: {labels[1]} stands in for the GPU; the decisions test the script)")
        elapsed = f"{time.perf_counter() - started:.0f} s in all"
        if len(labels) == 2:
            groups = {decision: " ".join(r["topic"] for r in rows if r["decision"] == decision)
                      or "-" for decision in ("GPU", "CPU")}
            other = " ".join(r["topic"] for r in rows if r["decision"] not in ("GPU", "CPU"))
            say(f"gpu_placement: GPU {groups['GPU']}; CPU {groups['CPU']}; undecided "
                f"{other or '-'}; {elapsed}")
        else:
            measured = [r["topic"] for r in rows if r["decision"] not in ("SKIPPED", "ERROR")]
            say(f"gpu_placement: {labels[0]} only, measured {' '.join(measured) or '-'}; "
                f"{elapsed}")

        if args.out:
            with open(out / "gpu_placement.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            fields = ["topic", "device", "repeat", "status", "seconds", "exact", "wall_s",
                      "startup_s", "setup_s", "device_s", "job_s", "compile_s", "exit_s", "job",
                      "device_name"]
            with open(out / "gpu_placement_runs.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
                writer.writeheader()
                for runs in all_runs.values():
                    for label in labels:
                        for r in runs.get(label, []):
                            writer.writerow({**r.split, "topic": r.topic, "device": r.label,
                                             "repeat": r.repeat + 1, "status": r.status,
                                             "seconds": round(r.seconds, 3), "exact": r.exact,
                                             "wall_s": round(r.wall_s, 3)})
        if args.write:
            when = datetime.datetime.now().astimezone().isoformat(timespec="minutes")
            header = [
                f"Written by benchmarks/gpu_placement.py on {when}: which training topics use "
                f"the GPU, measured.",
                f"Machine: {machine}; GPU: {gpu_name or 'none'}; torch {torch_version}.",
                f"Preset {args.preset}; one job per topic, a fresh {args.threads}-thread process "
                f"per device (startup and compile included, datasets not);",
                f"a topic uses the GPU when its time there < {args.margin:g} x its time on the "
                f"CPU, else `gpu: false`.",
            ]
            if "cuda" not in args.devices:
                header.append(f"NOT A GPU MEASUREMENT: {labels[1]} stood in for the GPU (a test "
                              f"of the script); do not use it as a profile.")
            header += [""] + lines + [""]
            header.append("Use with: snakemake --profile profiles/gpu all --configfile FILE (or "
                          "copy it to profiles/gpu/jobs.yaml).")
            write_jobs_yaml(args.write, rows, args.base, header)
            say(f"gpu_placement: wrote {args.write}")
        if text:
            text.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
