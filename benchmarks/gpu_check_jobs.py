"""The jobs of benchmarks/gpu_check.py: per experiment, the pipeline's jobs run through the
experiments' job functions (mnist1d.experiments), each a `Job` whose `run(device, timer, log)`
makes the job's tables on one device; gpu_check runs every job on each of its devices and compares
the tables (its module docstring says what each experiment runs and how it is compared).

A job's `run` returns its tables ({name: DataFrame}, compared between the devices), or (tables,
checks): `checks` ({name: a compare.frame_comparison-shaped dict}) are verdicts made on that
device alone (a resumed search equal to the uninterrupted one, a GPU claim that waited).
"""
import json
import logging
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from mnist1d import models, specs
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.experiments import (afunc_fit, benchmark, double_descent, lottery, metalearn_afunc,
                                 metalearn_lr, pooling, sensitivity, ssl, sweeps)
from mnist1d.pipeline import compare
from mnist1d.utils import ObjectView

REPO = Path(__file__).resolve().parent.parent
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def run_dtype(options):
    """The torch dtype the jobs train in (--dtype; float32 where `options` has none)."""
    return DTYPES[getattr(options, "dtype", None) or "float32"]


# --- datasets ---------------------------------------------------------------------------------

PERTURBATIONS = ("off", "ulp", "ulp-down")   # --perturb


def nudged(values, dtype, down=False):
    """`values` with every nonzero element moved one unit in the last place of `dtype` away from
    zero (toward zero with `down`; numpy.nextafter; zeros stay zero), as an array of `dtype`: the
    smallest change the computation can see. float32: relative 2**-24 to 2**-23; float64: 2**-53
    to 2**-52."""
    values = np.asarray(values, dtype=dtype)
    target = np.zeros_like(values) if down else np.copysign(np.inf, values)
    return np.where(values == 0, values, np.nextafter(values, target))


class Datasets:
    """The config's named datasets, made in memory on first use (as the pipeline's dataset jobs
    make them), and double descent's noisy-label datasets.

    With `perturb` "ulp" ("ulp-down"), while `perturbing` is set (gpu_check sets it for its second
    run), every dataset handed out has its inputs x and x_test nudged by one ulp of `dtype` (the
    dtype the jobs train in) away from zero (toward it: `nudged`); labels, the activation job's
    outputs and everything else are the same. The nudged arrays are made once and kept, as the
    plain ones are."""

    def __init__(self, config, say, perturb="off", dtype=torch.float32):
        if perturb not in PERTURBATIONS:
            raise ValueError(f"perturb {perturb!r}: one of {PERTURBATIONS}")
        self.config, self.say, self.made = config, say, {}
        self.perturb, self.perturbing = perturb, False
        self.np_dtype = {torch.float32: np.float32, torch.float64: np.float64}[dtype]

    def seen(self, key, data):
        """`data` as a job sees it: nudged while perturbing."""
        if not self.perturbing or self.perturb == "off":
            return data
        key, down = (self.perturb, key), self.perturb == "ulp-down"
        if key not in self.made:
            self.made[key] = dict(data, x=nudged(data["x"], self.np_dtype, down),
                                  x_test=nudged(data["x_test"], self.np_dtype, down))
        return self.made[key]

    def __getitem__(self, name):
        return self.seen(name, self.plain(name))

    def plain(self, name):
        if name not in self.made:
            t0 = time.perf_counter()
            args = get_dataset_args(as_dict=True) | dict(self.config["datasets"][name] or {})
            self.made[name] = make_dataset(ObjectView(args))
            self.say(f"  dataset {name}: {len(self.made[name]['x'])} train / "
                     f"{len(self.made[name]['x_test'])} test examples "
                     f"({time.perf_counter() - t0:.1f} s)")
        return self.made[name]

    def noisy(self, name, rate, seed, method="seeded"):
        """Dataset `name` with label noise `rate` (`method` as config double_descent.label_noise;
        seed `seed` for seeded): dd_noisy_dataset's dataset."""
        key = ("noisy", name, float(rate), int(seed), method)
        if key not in self.made:
            data = self.plain(name)
            if method == "notebook":
                args = get_dataset_args(as_dict=True) | dict(self.config["datasets"][name] or {})
                y = double_descent.notebook_noisy_labels(data["y"], rate, args)
            else:
                y = double_descent.noisy_labels(data["y"], rate, seed)
            self.made[key] = dict(data, y=y)
        return self.seen(key, self.made[key])

    def generated(self, overrides):
        """A dataset the generator makes from the paper's defaults and `overrides` (a sweep
        value's dataset: sweeps.dataset_args), as the sweep_dataset job makes it."""
        key = ("generated", json.dumps(overrides, sort_keys=True))
        if key not in self.made:
            t0 = time.perf_counter()
            self.made[key] = make_dataset(ObjectView(get_dataset_args(as_dict=True) | overrides))
            self.say(f"  dataset {overrides}: {len(self.made[key]['x'])} train / "
                     f"{len(self.made[key]['x_test'])} test examples "
                     f"({time.perf_counter() - t0:.1f} s)")
        return self.seen(key, self.made[key])

    def afunc_run(self, config, dtype):
        """The activation job's outputs (metalearn_afunc.train_job, on the CPU, eager), the
        inputs of its fit job: made once, outside any clock, the same for every device."""
        key = ("afunc_run", str(dtype))
        if key not in self.made:
            t0 = time.perf_counter()
            p = metalearn_afunc.protocol_from_config(dict(config, compile=False))
            data = self.plain(config["metalearn"]["afunc"]["dataset"])
            self.made[key] = metalearn_afunc.train_job(p, {"dataset": data}, device="cpu",
                                                       dtype=dtype)
            self.say(f"  the activation job's outputs for its fit: made on the CPU, eager "
                     f"({time.perf_counter() - t0:.1f} s)")
        return self.made[key]


# --- jobs -------------------------------------------------------------------------------------

@dataclass
class Job:
    """One pipeline job of an experiment: `run(device, timer, log)` makes its tables (a dict
    name -> DataFrame), timing its job function's call with `timer`; `steps` sequential
    steps."""
    name: str
    steps: int
    run: object


# --- the experiments: the jobs of each, run by their job functions -----------------------------
# Each function returns (jobs, step unit); the datasets are made when a job first needs them.

def job_run(job_function, protocol, inputs, tables=None, dtype=None, checks=None, **options):
    """A Job's `run`: the experiment's job function (what the pipeline's job runs, see
    mnist1d.experiments) with the rule's protocol on `inputs()` (made before the clock starts),
    timed whole; the tables compared: its outputs, or `tables(outputs)` where given; with
    `checks`, also the verdicts checks(outputs) made on the device alone. `dtype`
    (run_dtype(options)) is passed on where given; `run.dtype` says what the job trains in."""
    if dtype is not None:
        options["dtype"] = dtype

    def run(device, timer, log):
        loaded = inputs()
        with timer():
            outputs = job_function(protocol, loaded, device=device, logger=log, **options)
        made = outputs if tables is None else tables(outputs)
        return made if checks is None else (made, checks(outputs))
    run.dtype = torch.float32 if dtype is None else dtype
    return run


# The same computation run twice on one device (a resumed search against the uninterrupted one):
# every value equal.
EXACT_TOLERANCES = {kind: (0.0, 0.0) for kind in compare.DEVICE_TOLERANCES}


def expectation(ok, found):
    """A verdict made on one device, shaped as a compare.frame_comparison result (one value);
    `found` (what was found) is its problem line when it fails."""
    return {"ok": bool(ok), "values": 1, "max_abs": math.nan, "columns": [],
            "problems": [] if ok else [found]}


def benchmark_jobs(config, datasets, options):
    section, jobs = config["benchmark"], []
    for model in section["models"]:
        for variant, dataset in section["variants"].items():
            p = benchmark.protocol_from_config(config, model, variant)
            # its test predictions are not compared: argmaxes, a near tie flips between devices
            # (their accuracy is the history's last test_acc)
            run = job_run(benchmark.train_job, p, lambda d=dataset: {"dataset": datasets[d]},
                          tables=lambda outputs: {"history": outputs["history"]},
                          dtype=run_dtype(options))
            jobs.append(Job(f"{model} {variant}", p["engine"]["steps"] + 1, run))
    return jobs, f"ensemble step ({len(section['seeds'])} seeds)"


def pooling_jobs(config, datasets, options):
    jobs = []
    for variant in config["pooling"]["variants"]:
        p = pooling.protocol_from_config(config, variant)
        run = job_run(pooling.train_job, p,
                      lambda p=p: {name: datasets[name] for name in p["datasets"]},
                      dtype=run_dtype(options))
        jobs.append(Job(variant, p["engine"]["steps"] + 1, run))
    members = len(config["pooling"]["datasets"]) * len(config["pooling"]["seeds"])
    return jobs, f"ensemble step ({members} members: sizes x seeds)"


def ssl_jobs(config, datasets, options):
    p = ssl.protocol_from_config(config)
    return ([ssl_training_job("training", p, config["ssl"]["dataset"], datasets, options)],
            f"ensemble step ({len(p['seeds'])} seeds)")


def ssl_training_job(name, p, dataset, datasets, options):
    """ssl.train_job of protocol `p` (the main one, or a sensitivity setting's) on dataset
    `dataset`: its history and embeddings; its probes ("csv") with --ssl-probes on only."""
    def tables(outputs):
        return dict(outputs, embeddings=ssl_embeddings(outputs["embeddings"]))
    run = job_run(ssl.train_job, p, lambda: {"dataset": datasets[dataset]}, tables,
                  dtype=run_dtype(options), probes=options.ssl_probes == "on")
    return Job(name, ssl_steps(p, datasets[dataset]), run)


def ssl_steps(p, data):
    """An SSL job's sequential steps on `data`: epochs x batches per epoch."""
    s = ssl.settings_of(p["settings"])
    return s["epochs"] * (len(data["x"]) // s["batch_size"])


def ssl_embeddings(embeddings):
    """The job's embeddings (its .npz file) as a table: the 16-d output of seed 0 on every
    example (train then test), before and after training."""
    frames = []
    for stage in ("before", "after"):
        values = embeddings[stage]
        frame = pd.DataFrame(values, columns=[f"output{i}" for i in range(values.shape[1])])
        frame.insert(0, "example", np.arange(len(values)))
        frame.insert(0, "stage", stage)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def lottery_jobs(config, datasets, options):
    ps = lottery.protocol_from_config(config, "search")
    pa = lottery.protocol_from_config(config, "analysis")
    networks = len(lottery.analysis_members(pa["trials"]))
    group = networks if pa["group"] is None else int(pa["group"])
    members = len(lottery.members_of(ps["trials"], ps["methods"]))

    dtype = run_dtype(options)

    def run(device, timer, log):
        search = {"dataset": datasets[config["lottery"]["search"]["dataset"]]}
        with timer():
            searched = lottery.segment_job(ps, search, device=device, logger=log, dtype=dtype)
        with tempfile.TemporaryDirectory(prefix="gpu_check_lottery_") as tmp:
            path = os.path.join(tmp, "masks.npz")
            searched["masks"].save(path)
            store = lottery.MaskStore(path)
            analysis = {"dataset": datasets[config["lottery"]["analysis"]["dataset"]],
                        "masks": store}
            with timer():
                analysed = lottery.part_job(pa, analysis, device=device, logger=log,
                                            dtype=dtype)
            round_ = int(analysed["history"]["round"].iloc[0])   # as the merge job reads it
            adjacency = lottery.adjacency_table(store, round_, pa["trials"], pa["adjacency"])
        return {"search": searched["history"], "analysis": analysed["history"],
                "adjacency": adjacency}
    search_steps = ps["rounds"] * (ps["engine"]["steps"] + 1)
    analysis_steps = math.ceil(networks / group) * (pa["engine"]["steps"] + 1)
    run.dtype = dtype
    return ([Job("search + analysis", search_steps + analysis_steps, run)],
            f"ensemble step (search: {search_steps} of {members} members; analysis: "
            f"{analysis_steps} of {group} members)")


def double_descent_jobs(config, datasets, options):
    section, jobs = config["double_descent"], []
    for job in double_descent.plan_jobs(section):
        p = double_descent.protocol_from_config(config, job["name"])

        def inputs(p=p):
            return {noise: datasets.noisy(section["dataset"], noise, section["noise_seed"],
                                          section.get("label_noise", "seeded"))
                    for noise in p["job"]["noises"]}
        run = job_run(double_descent.train_job, p, inputs, dtype=run_dtype(options))
        n_train = len(datasets[section["dataset"]]["x"])
        steps = specs.epochs_to_steps(p["epochs"], n_train, p["batch_size"]) + 1
        jobs.append(Job(job["name"], steps, run))
    return jobs, "ensemble step (every size, noise and seed of a job, padded)"


def metalearn_lr_jobs(config, datasets, options):
    p = metalearn_lr.protocol_from_config(config)
    run = job_run(metalearn_lr.train_job, p,
                  lambda: {"dataset": datasets[config["metalearn"]["lr"]["dataset"]]},
                  dtype=run_dtype(options))
    steps = len(p["start_lrs"]) * p["outer_steps"] * p["inner_steps"]
    return ([Job("trials", steps, run)],
            f"unrolled inner step ({len(p['start_lrs'])} trials x {p['outer_steps']} outer steps "
            f"x {p['inner_steps']}; forward, and its share of the meta-gradient)")


def metalearn_afunc_jobs(config, datasets, options):
    p = metalearn_afunc.protocol_from_config(config)
    cfg = metalearn_afunc.AfuncConfig.from_dict(p)
    evaluations = 1 + len(p["baselines"])

    run = job_run(metalearn_afunc.train_job, p,
                  lambda: {"dataset": datasets[config["metalearn"]["afunc"]["dataset"]]},
                  dtype=run_dtype(options))
    steps = (cfg.outer_steps + evaluations) * cfg.inner_steps
    return ([Job(f"metalearning + baselines ({cfg.implementation})", steps, run)],
            f"inner step ({cfg.outer_steps} x {cfg.inner_steps} metalearning, {evaluations} x "
            f"{cfg.inner_steps} evaluating; implementation {cfg.implementation})")



# --- the jobs beyond the paper's figures: sweeps, your own model, SSL variants, sensitivity ------

SWEEPS = ("resolution", "samples")   # one job of each (SWEEPS' docstring in gpu_check)


def sweeps_jobs(config, datasets, options):
    """One sweep_train job of each sweep of SWEEPS (the config's first sweep where it has none
    of them): its first value other than the paper's, its first chunk of seeds."""
    names = [n for n in SWEEPS if n in sweeps.names(config)] or sweeps.names(config)[:1]
    paper, jobs = get_dataset_args(as_dict=True), []
    for name in names:
        s = sweeps.settings(config, name)
        texts = sweeps.value_texts(config, name)
        text = next((t for t, v in zip(texts, s["values"]) if v != paper[s["arg"]]), texts[0])
        jobs.append(sweep_job(config, datasets, options, name, text,
                              sweeps.chunks(config, name)[0]))
    return jobs, "ensemble step (a model's seeds of the job; the models one after the other)"


def sweep_job(config, datasets, options, name, text, chunk):
    """The sweep_train job of sweep `name`, value `text` and seed chunk `chunk`, as
    workflow/rules/sweeps.smk runs it (its dataset made as the sweep_dataset job makes it)."""
    p = sweeps.protocol_from_config(config, name, text, chunk)
    run = job_run(sweeps.train_job, p,
                  lambda: {"dataset": datasets.generated(sweeps.dataset_args(config, name, text))},
                  dtype=run_dtype(options))
    return Job(f"{name} {sweeps.settings(config, name)['arg']}={text}{chunk}",
               len(p["models"]) * (p["engine"]["steps"] + 1), run)


# A user's own models (config `models:`): the example of examples/resnet1d.yaml, which the generic
# ensemble path trains (vmap), and a module with BatchNorm, which it cannot (buffers): trained
# seed by seed, the fallback.
FALLBACK_MODELS = {"bn_mlp": {"class": "examples.batchnorm_mlp:BatchNormMLP",
                              "kwargs": {"hidden": 32}}}


def custom_models_jobs(config, datasets, options):
    """benchmark.train_job of each own model on the benchmark's first variant, as a config with
    the models named in `models:` and `benchmark.models` would run it."""
    with open(REPO / "examples" / "resnet1d.yaml") as f:
        batched = yaml.safe_load(f)["models"]
    own = dict(config, models={**config.get("models", {}), **batched, **FALLBACK_MODELS})
    variant, dataset = next(iter(config["benchmark"]["variants"].items()))
    jobs = []
    for model in (*batched, *FALLBACK_MODELS):
        p = benchmark.protocol_from_config(own, model, variant)
        expected = "the vmap ensemble path" if model in batched else "the per-seed fallback"

        def checks(outputs, spec=p["spec"], expected=expected):
            ok, why = models.ensemble_support(spec)
            path = "the vmap ensemble path" if ok else f"the per-seed fallback ({why})"
            return {f"trains through {expected}": expectation(
                path.startswith(expected), f"expected {expected}; ensemble_support: {path}")}
        run = job_run(benchmark.train_job, p, lambda d=dataset: {"dataset": datasets[d]},
                      tables=lambda outputs: {"history": outputs["history"]},
                      dtype=run_dtype(options), checks=checks)
        seeds = 1 if model in batched else len(p["seeds"])
        jobs.append(Job(f"{model} {variant} ({expected})", seeds * (p["engine"]["steps"] + 1),
                        run))
    return jobs, "step (vmap: an ensemble step of the seeds; the fallback: one seed's step)"


# The SSL model variant run (ssl.variants; the first of the config's where it has none of these):
# `none`, without a projector, whose features are its output: a path the main model does not
# take (`deep` is the main model's projector made longer, and one more compile).
SSL_VARIANTS = ("none",)


def ssl_variant_jobs(config, datasets, options):
    """ssl.variant_job of the model variants of SSL_VARIANTS (the guillotine's models)."""
    jobs, dataset = [], config["ssl"]["dataset"]
    variants = list(config["ssl"].get("variants") or {})
    for name in [v for v in SSL_VARIANTS if v in variants] or variants[:1]:
        p = ssl.variant_protocol(config, name)
        run = job_run(ssl.variant_job, p, lambda: {"dataset": datasets[dataset]},
                      dtype=run_dtype(options), probes=options.ssl_probes == "on")
        jobs.append(Job(f"{name} (projector {p['settings']['projector']})",
                        ssl_steps(p, datasets[dataset]), run))
    seeds = len(config["ssl"]["seeds"])
    return jobs, f"ensemble step ({seeds} seeds)"


# The sensitivity settings run (sensitivity.choices; gpu_check's docstring says why these).
SENSITIVITY = ("ssl_shift_and_loss",)


def sensitivity_jobs(config, datasets, options):
    """The alternative job of each choice of SENSITIVITY, as workflow/rules/sensitivity.smk runs
    it: the experiment's job function with sensitivity.protocol(config, choice)."""
    jobs, seeds = [], len(config["ssl"]["seeds"])
    for name in [n for n in SENSITIVITY if n in sensitivity.names(config)]:
        experiment = sensitivity.choice(config, name)["experiment"]
        if experiment != "ssl":
            raise ValueError(f"gpu_check runs no sensitivity choice of {experiment!r} ({name})")
        alt = sensitivity.alternative_config(config, name)
        jobs.append(ssl_training_job(name, sensitivity.protocol(config, name),
                                     alt["ssl"]["dataset"], datasets, options))
    return jobs, f"ensemble step ({seeds} seeds)"


def afunc_fit_jobs(config, datasets, options):
    """afunc_fit.fit_job on the outputs of one activation job (Datasets.afunc_run: made on the
    CPU, the same inputs for every device): the fit, then an inner run with the fitted f."""
    p = afunc_fit.protocol_from_config(config)
    dtype = run_dtype(options)
    name = config["metalearn"]["afunc"]["dataset"]

    def inputs():
        made = datasets.afunc_run(config, dtype)
        return {"function": made["function"], "activations": made["activations"],
                "dataset": datasets[name]}
    run = job_run(afunc_fit.fit_job, p, inputs, dtype=dtype)
    steps = metalearn_afunc.AfuncConfig.from_dict(p["afunc"]).inner_steps
    return [Job("fit + inner run", steps, run)], "inner step (one inner run with the fitted f)"


# --- the lottery search resumed from its checkpoint ---------------------------------------------

class Interrupted(Exception):
    """Raised at the search's line of its first round: the job stops as a kill would."""


class SearchLines(logging.Handler):
    """Keeps a search's log lines; raises Interrupted at the line of round `stop_after` (the
    search writes it once the round is checkpointed: a kill there loses nothing), as
    tests/test_jobs.py stops a segment job."""

    def __init__(self, stop_after=None):
        super().__init__()
        self.lines, self.stop_after = [], stop_after

    def emit(self, record):
        line = record.getMessage()
        self.lines.append(line)
        if self.stop_after is not None and line.startswith(f"round {self.stop_after:3d}/"):
            raise Interrupted(self.stop_after)

    def rounds(self):
        """The rounds the search trained (its "round r/R" lines)."""
        return [int(re.match(r"round\s+(\d+)/", line).group(1)) for line in self.lines
                if re.match(r"round\s+\d+/", line)]


def search_logger(log, name, stop_after=None):
    """A child of `log` (its lines still reach the detail log) whose lines SearchLines keeps."""
    logger = logging.getLogger(f"{log.name}.{name}")
    handler = SearchLines(stop_after)
    logger.handlers, logger.propagate = [handler], True
    logger.setLevel(logging.INFO)
    return logger, handler


def mask_table(masks):
    """A search's masks (lottery.SearchMasks) as a table: per round, tensor and member the bits
    kept and a CRC-32 of its bit-packed mask."""
    rows = []
    for i, packed in enumerate(masks.rounds):
        for tensor, bits in packed.items():
            for k, (trial, method) in enumerate(masks.members):
                rows.append({"round": masks.first_round + i, "tensor": tensor, "trial": trial,
                             "method": method, "ones": int(np.unpackbits(bits[k]).sum()),
                             "crc32": zlib.crc32(bits[k].tobytes())})
    return pd.DataFrame(rows)


def lottery_resume_jobs(config, datasets, options):
    """The search as one segment of every round with a checkpoint folder (as the sensitivity
    rule runs it), stopped after its first round (SearchLines raises), run again with the same
    folder: it resumes at round 1. On each device its history and masks must equal those of the
    same search run without a stop (exactly); between the devices its history is compared."""
    ps = lottery.protocol_from_config(config, "search")
    p = {**ps, "first_round": 0, "stop_round": ps["rounds"]}
    dtype = run_dtype(options)
    dataset = config["lottery"]["search"]["dataset"]

    def run(device, timer, log):
        data = {"dataset": datasets[dataset]}
        # the uninterrupted search (outside the clock), then the interrupted one and its resumption
        whole = lottery.segment_job(p, data, device=device, logger=log, dtype=dtype)
        stopped = None
        killer, first = search_logger(log, "interrupted", stop_after=0)
        again, second = search_logger(log, "resumed")
        with tempfile.TemporaryDirectory(prefix="gpu_check_resume_") as tmp:
            checkpoint = os.path.join(tmp, "checkpoint")
            with timer():
                try:
                    lottery.segment_job(p, data, device=device, logger=killer, dtype=dtype,
                                        checkpoint=checkpoint)
                except Interrupted as err:
                    stopped = err.args[0]
            state = json.loads((Path(checkpoint) / "state.json").read_text())
            with timer():
                resumed = lottery.segment_job(p, data, device=device, logger=again, dtype=dtype,
                                              checkpoint=checkpoint)
        rest = list(range(1, p["rounds"]))
        said = any(line.startswith("resuming after round 0") for line in second.lines)
        checks = {
            "stopped after round 0, resumed at round 1": expectation(
                stopped == 0 and first.rounds() == [0] and state["rounds_done"] == 1 and said
                and second.rounds() == rest,
                f"stopped after round {stopped}, checkpoint of {state['rounds_done']} rounds, "
                f"{'said' if said else 'did not say'} it resumed, trained rounds "
                f"{second.rounds()} (expected {rest})"),
            "resumed = uninterrupted: history": compare.frame_comparison(
                whole["history"], resumed["history"], "search", EXACT_TOLERANCES),
            "resumed = uninterrupted: masks": compare.frame_comparison(
                mask_table(whole["masks"]), mask_table(resumed["masks"]), "masks",
                EXACT_TOLERANCES)}
        return {"search": resumed["history"]}, checks
    run.dtype = dtype
    members = len(lottery.members_of(p["trials"], p["methods"]))
    return ([Job("stopped after round 0, resumed", p["rounds"] * (p["engine"]["steps"] + 1), run)],
            f"ensemble step ({members} members; the uninterrupted run it is held to is not timed)")


# --- the workflow's GPU claim: job_device with gpu_slots ----------------------------------------

CLAIM_SLOTS = 2
CLAIM_HOLDS = (0.5, 2.0, 0.5)   # seconds each job holds its slot: the third waits for the first
# One pipeline job's claim (mnist1d.pipeline.device.job_device, resources gpu 1 and gpu_slots):
# it starts (on a GPU: CUDA set up, so that claiming takes no time), waits for "go" on stdin,
# claims, computes a product on the device it got, holds the slot, and prints when it claimed
# and released. "fake": tests/test_device.py's fake of one CUDA
# device, claimed through the same lock files, the product computed on the CPU.
CLAIM_SCRIPT = r'''
import json, sys, time
import torch
fake, lock_dir, name = sys.argv[1] == "fake", sys.argv[2], sys.argv[3]
hold, slots = float(sys.argv[4]), int(sys.argv[5])
if fake:
    torch.cuda.is_available = lambda: True
    torch.cuda.device_count = lambda: 1
    torch.cuda.set_device = lambda index: None
else:
    torch.ones(1, device="cuda").sum().item()
from mnist1d.pipeline.device import job_device
print("ready", flush=True)
if sys.stdin.readline().strip() != "go":
    sys.exit(0)
with job_device("cuda", {"gpu": 1, "gpu_slots": slots}, lock_dir=lock_dir, timeout=120,
                job=name) as device:
    claimed = time.time()
    x = torch.ones(256, 256, device="cpu" if fake else device)
    product = float((x @ x)[0, 0])
    current = device.index if fake else torch.cuda.current_device()
    print(json.dumps({"event": "claimed", "time": claimed, "device": str(device),
                      "current": current, "product": product}), flush=True)
    time.sleep(hold)
    released = time.time()
print(json.dumps({"event": "released", "time": released}), flush=True)
'''


def claim_event(proc, event):
    """The next line of a claim job, which must be `event` ("ready", or JSON with that event)."""
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=60)
        raise RuntimeError(f"a claim job ended (exit {proc.returncode}) before {event!r}:\n"
                           + proc.stderr.read()[-3000:])
    if event == "ready":
        if line.strip() != "ready":
            raise RuntimeError(f"a claim job said {line!r} instead of 'ready'")
        return None
    found = json.loads(line)
    if found.get("event") != event:
        raise RuntimeError(f"a claim job said {line!r}, expected {event!r}")
    return found


def claim_run(device, timer, log):
    """Three jobs, each its own process, claim a GPU with CLAIM_SLOTS slots: on a CUDA device
    the first visible GPU alone (CUDA_VISIBLE_DEVICES set to it), elsewhere tests/test_device.py's
    fake. Jobs 1 and 2 start together; job 3 once both hold their slots."""
    fake = device.type != "cuda"
    path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(path))
    env.pop("SLURM_JOB_ID", None)            # the claims are among these three jobs only
    if not fake:
        visible = [v.strip() for v in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
        env["CUDA_VISIBLE_DEVICES"] = visible[0] if visible else "0"
    procs, go, claimed, released = [], {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="gpu_check_claims_") as lock_dir:
        try:
            with timer():
                for i, hold in enumerate(CLAIM_HOLDS):
                    procs.append(subprocess.Popen(
                        [sys.executable, "-c", CLAIM_SCRIPT, "fake" if fake else "cuda", lock_dir,
                         f"claim{i + 1}", str(hold), str(CLAIM_SLOTS)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True, env=env, cwd=REPO))
                for proc in procs:
                    claim_event(proc, "ready")

                def start(i):
                    go[i] = time.time()
                    procs[i].stdin.write("go\n")
                    procs[i].stdin.flush()
                start(0)
                start(1)
                claimed.update({i: claim_event(procs[i], "claimed") for i in (0, 1)})
                start(2)
                claimed[2] = claim_event(procs[2], "claimed")
                for i, proc in enumerate(procs):
                    released[i] = claim_event(proc, "released")["time"]
                    proc.wait(timeout=60)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    for i, c in claimed.items():
        log.info(f"claim job {i + 1}: {c['device']} (current device {c['current']}) after "
                 f"{c['time'] - go[i]:.2f} s, held {released[i] - c['time']:.2f} s")
    order = sorted(claimed, key=lambda i: claimed[i]["time"])
    rows = []
    for n, i in enumerate(order):
        t = claimed[i]["time"]
        rows.append({"claim": n + 1, "device": claimed[i]["device"],
                     "gpu": int(claimed[i]["current"]),
                     "holding_at_claim": sum(claimed[j]["time"] <= t < released[j]
                                             for j in claimed if j != i),
                     "waited": bool(t - go[i] > 0.5 * min(CLAIM_HOLDS)),
                     "wait_s": t - go[i], "held_s": released[i] - t})
    table = pd.DataFrame(rows)
    first, second, third = rows
    ending = min(released[i] for i in (0, 1))
    checks = {
        f"two jobs hold GPU 0 at once ({CLAIM_SLOTS} slots)": expectation(
            first["gpu"] == second["gpu"] == 0 and second["holding_at_claim"] == 1
            and not first["waited"] and not second["waited"],
            f"claims 1 and 2: {first} / {second}"),
        "the third waits until one ends, then gets GPU 0": expectation(
            order[2] == 2 and third["waited"] and claimed[2]["time"] >= ending
            and third["gpu"] == 0 and third["holding_at_claim"] == 1,
            f"claim 3: {third} (job 3 claimed {claimed[2]['time'] - ending:+.2f} s after the first "
            f"release)"),
        "each job computes on the device it got": expectation(
            all(c["device"] == f"cuda:{c['current']}" and c["product"] == 256.0
                for c in claimed.values()),
            "devices got: " + ", ".join(f"{c['device']} (current {c['current']}, product "
                                        f"{c['product']})" for c in claimed.values()))}
    return {"claims": table}, checks


def gpu_claim_jobs(config, datasets, options):
    def run(device, timer, log):
        return claim_run(device, timer, log)
    run.dtype = run_dtype(options)            # it trains nothing: any --dtype
    return ([Job(f"3 jobs, {CLAIM_SLOTS} slots on one GPU", 0, run)],
            "it trains nothing: three jobs claim a GPU's slots")


JOBS = {"benchmark": benchmark_jobs, "pooling": pooling_jobs, "ssl": ssl_jobs,
        "lottery": lottery_jobs, "double_descent": double_descent_jobs,
        "metalearn_lr": metalearn_lr_jobs, "metalearn_afunc": metalearn_afunc_jobs,
        "sweeps": sweeps_jobs, "custom_models": custom_models_jobs,
        "ssl_variant": ssl_variant_jobs, "sensitivity": sensitivity_jobs,
        "afunc_fit": afunc_fit_jobs, "lottery_resume": lottery_resume_jobs,
        "gpu_claim": gpu_claim_jobs}
