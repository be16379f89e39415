"""GPU check: the smoke preset's training of every job kind on the CPU and on the GPU, compared.

    PYTHONPATH=. python3 benchmarks/gpu_check.py --out DIR
        [--compile {on,off}] [--only EXP [EXP ...]] [--devices cpu cuda] [--threads 1]
        [--second-call {auto,on,off}] [--ssl-probes {off,on}] [--tf32 {default,off}]
        [--dtype {float32,float64}] [--perturb {off,ulp,ulp-down}] [--deadline-s 400]
        [--save-tables FILE] [--reference FILE]

Run from the repository root. It needs torch, numpy, pandas, scikit-learn, numba and pyyaml, but
not snakemake, jsonschema or openTSNE: the configuration is resolved with
mnist1d.pipeline.config.resolve (config.yaml + workflow/presets/smoke.yaml), the datasets are
made in memory (mnist1d.data.make_dataset, the double-descent label noise with
double_descent.noisy_labels, as the pipeline's dataset jobs do), and every experiment runs the
job functions its pipeline jobs run (mnist1d.experiments: one per job kind, what
workflow/scripts/*.py call) with the protocol its rule passes (`protocol_from_config` of each
module under mnist1d/experiments/); the tables compared are the job's outputs (the jobs of each
experiment are built in benchmarks/gpu_check_jobs.py, beside this script):

    benchmark        benchmark.train_job, every model x variant; its history (the test
                     predictions are not compared: argmaxes, a near tie flips between devices;
                     their accuracy is the history's last test_acc)
    pooling          pooling.train_job, every variant
    ssl              ssl.train_job: its history and embeddings (the output of seed 0 on every
                     example, before and after training); its probes ("csv": the kNN and linear
                     probes, CPU scikit-learn, about a minute per run on one core) only with
                     --ssl-probes on (the job's probes=False otherwise): the probes are the same
                     CPU code on both runs, and the embeddings compare what they would be fed
    lottery          lottery.segment_job (every round of every member, no checkpoint), then
                     lottery.part_job (every network) and adjacency_table
    double_descent   double_descent.train_job, every job of double_descent.plan_jobs
    metalearn_lr     metalearn_lr.train_job
    metalearn_afunc  metalearn_afunc.train_job (no checkpoint): metalearning, then the baselines
    afunc_fit        afunc_fit.fit_job on the outputs of one activation job made on the CPU
                     (eager, outside the clock: the same inputs for both devices): the fit, then
                     the inner run with the fitted f
    sweeps           sweeps.train_job (every model, the first chunk of seeds) of one value of
                     the sweeps `resolution` and `samples`, their first value other than the
                     paper's: 20-point signals (every model built for that length) and 500
                     examples (in-order batches that wrap every 4 steps); the dataset made by
                     the generator as the sweep_dataset job makes it
    custom_models    benchmark.train_job of a user's own models (config `models:`) on the first
                     variant: examples/resnet1d.yaml's ResNet1D, which the generic ensemble path
                     trains (torch.func.functional_call under vmap; compiled with --compile on),
                     and examples/batchnorm_mlp.py's BatchNormMLP, which it cannot (BatchNorm's
                     running statistics are buffers): the per-seed fallback. Its history; on each
                     device a check that each model took its path (models.ensemble_support)
    ssl_variant      ssl.variant_job of the variant `none` (no projector: its features are its
                     output, a path the main model does not take); its history (its probes too
                     with --ssl-probes on)
    sensitivity      the alternative job of the sensitivity choice ssl_shift_and_loss
                     (`sensitivity.choices`; sensitivity.protocol, as
                     workflow/rules/sensitivity.smk runs it): ssl.train_job, tables as ssl's.
                     Every choice's job trains, but only the SSL choices change what a device
                     computes: shifts both ways in the augmentation and the symmetric InfoNCE
                     over all 2B outputs, and this one has both (ssl_shift and ssl_loss are its
                     halves). The lottery choices change the masks, ranked on the CPU from the
                     weights the device trained (lottery_rank_by, lottery_score_step), or the
                     analysis' initialisation, drawn on the CPU (lottery_analysis_init); the
                     activation's choice its inner initialisation and noise, drawn on the CPU
                     (afunc_inner_init): the devices run the same code as in the main jobs, at
                     the price of one more compile each
    lottery_resume   lottery.segment_job of every round with a checkpoint folder, stopped after
                     round 0 (its logger raises at the round's line, written once the round is
                     checkpointed, as a kill stops it), then run again with the same folder:
                     it resumes at round 1. On each device its history and masks
                     must equal, exactly, those of the same search run without a stop (that run
                     is outside the clock); between the devices its history is compared
    gpu_claim        the workflow's GPU claim (mnist1d.pipeline.device.job_device, resources gpu
                     1 and gpu_slots 2): three jobs, each its own process, claim the first GPU
                     (CUDA_VISIBLE_DEVICES set to it alone); two hold it at once, the third waits
                     until one ends, and each computes on the device it got and says which. On a
                     CUDA run the real claim; on a CPU run tests/test_device.py's fake (CUDA
                     reported with one device, the same lock files, the product computed on the
                     CPU), so that it runs in the tests too. Its table (claim order, device,
                     index, claims held at each claim, waited) is compared between the runs; it
                     trains nothing: no steps, no second call, any --dtype

The t-SNE baselines (tsne.baselines_job) are not run: scikit-learn on the CPU, the device unused.

Checks on one device. Besides the comparison between the devices, a job may check something on
each device alone: lottery_resume (equal to the uninterrupted search), custom_models (the path
each model took), gpu_claim (how the claims went). Each prints "LABEL JOB: CHECK: PASS" (or FAIL
with what was found) and counts among the experiment's tables, in its verdict and in
gpu_check_columns.csv (as "JOB: CHECK (LABEL)"); with one device a failed check makes the
experiment FAIL instead of DONE.

`--compile on` (the default) sets the config's top-level `compile: true` before the protocols are
made (the smoke preset sets it false), so the engine's torch.compile'd training step and the
activation experiment's `compiled` implementation run on both devices; `--compile off` runs the
smoke preset as it is (eager steps, the `fused` activation implementation).

What is compared. The experiments run one after the other (gpu_claim, metalearn_lr, afunc_fit,
sweeps, double_descent, lottery, lottery_resume, ssl, ssl_variant, sensitivity, pooling,
metalearn_afunc, custom_models, benchmark: the longest compiles last), each job of an experiment
first on the first device of --devices (the reference, cpu by default), then on the second; every
table the job produces (the ones it writes in the pipeline) is compared row by row with the
reference's, through mnist1d.pipeline.compare (frame_comparison, the module that compares every
result table of the project): each column by its kind (compare.table_column_kind), each value b
of the second run against the reference's a, within the tolerance set of --dtype. With float32
(the default, what the pipeline runs) that is compare.DEVICE_TOLERANCES:

    key            1e-06 rel + 1e-09 abs    float inputs of the computation: epoch, noise,
                                            sparsity, kept, start_lr, sample points x, ...
    accuracy       2 points                 *acc*, *error* (percent; probe accuracies too)
    loss           0.05 rel + 0.001 abs     *loss*
    learning_rate  0.01 rel                 lr, lr_next (the metalearned learning rate)
    value          0.05 rel + 0.001 abs     every other number (meta-gradients, the learned
                                            activation, embeddings, adjacency statistics, ...;
                                            spreads, *_std, alike)
    label          equal                    text and boolean columns (model, variant, method)
    integer        equal                    integer columns: seed, step, size, round, ...
                                            (rows must line up)
    timing         ignored                  seconds, *_s, ... (compare.TIMING)

(|a - b| <= rel |a| + abs.) NaN must be NaN in both (pooling evaluates the training set only every
few evaluations). Why tolerances and not equality: CPU and GPU kernels sum in different orders, so
float32 trajectories part by rounding, more the longer they train; the smoke preset trains 20 to
100 steps, where most parted trajectories still agree far better than these tolerances, while a
wrong result (a missing update, a wrong mask, a device mix-up) is off by much more. Not all:
"Rounding floor" below says which jobs amplify one ulp beyond them. An accuracy of
2 points is 20 of the 1 000 test examples, or 2 of the activation experiment's 100. A table passes
when every value is within its tolerance; an experiment agrees when all its tables pass.

float64. `--dtype float64` trains every job in float64 on both devices (the job functions' `dtype`:
the same random draws as in float32; the datasets' float32 arrays converted on the device) and
compares with compare.FLOAT64_TOLERANCES: losses, values and learning rates to
1e-09 rel + 1e-12 abs, keys to 1e-12 rel, accuracies exactly. Rounding in float64 is 1e-16 of a
value, so a float32 difference that vanishes in float64 was rounding; one that stays is something
the devices compute differently (a random draw made on the device, a kernel that is not the same
operation). The compiled paths take float64 too: --compile on compiles float64 graphs (the engine's
step and the activation experiment's `compiled` implementation; on the CPU they give the eager
float64 numbers to 1e-16). An experiment whose jobs do not take the dtype is SKIPPED and says
so. `--devices cpu cpu --dtype float64` must find no difference at all (tests/test_gpu_check.py
runs it for every experiment).

Rounding floor (--perturb). How far training carries a rounding difference depends on the job,
and in some it goes beyond the float32 tolerances. `--perturb ulp` measures it: the second run's
inputs (every dataset's x and x_test as the job sees them: gpu_check_jobs.Datasets) are nudged by
one ulp of --dtype away from zero (numpy.nextafter, zeros kept; `ulp-down`: toward zero), all
else as in the first run, and `--devices cpu cpu --perturb ulp` gives per column the difference
one ulp of input makes by the end of the smoke run: its rounding floor. On the 2-core AMD EPYC
machine (torch 2.13 CPU, one thread; float32; compile on and off alike; benchmarks/README.md has
the numbers):

    a few ulps (1e-7 rel)       metalearn_lr, afunc_fit, sweeps, double_descent, lottery_resume,
                                the lottery search, metalearn_afunc; the benchmark's logistic,
                                MLP and GRU, and its CNN on `normal`
    amplified, within           the lottery analysis (loss 1e-4 rel, accuracy 0.4 points), pooling
    tolerance                   `max` (loss 2 %, accuracy 0.7 points; `none` 4e-4), the CNN on
                                `shuffled` (batch loss 4 % against 5 %, accuracy 0.9 points),
                                the SSL history losses (0.1 to 0.6 %), the BatchNorm MLP
    beyond tolerance            the SSL embeddings after training (ssl and sensitivity: 0.6 and
                                1.6 abs, of outputs whose norm is 1.7 and 1.4 on average; 40 to
                                47 % of the values outside; before training 3e-8),
                                custom_models' ResNet1D with compile on (train accuracy 2.1
                                points; 5.3 nudged toward zero)

It is not a smooth growth: the difference stays at a few ulps until a discrete choice flips (max
pooling's argmax on a near tie, a ReLU's gate at 0, whose gradient jumps), then the runs part
(pooling `max` parts 40 times more than `none`). A float64 ulp is 5e8 times smaller and such
flips are rare: the float64 floors (`--dtype float64 --perturb ulp`) stay at 1e-16 to 1e-11
relative, except the SSL embeddings (2e-9 relative at 7e-14 absolute, inside the 1e-12 absolute
tolerance) and sensitivity's (5.6e-12 absolute: one value in 160 000 just outside
FLOAT64_TOLERANCES). SSL: its loss, the mean InfoNCE of the normalised outputs, stays within
0.3 % of itself, while the raw 16-d outputs that its embeddings table holds part by 15 % (of
their norm; 13 % after the best rotation): the loss sees only their directions, averaged over
a batch, so the outputs' norms (0.7 to 1.4 times each other's) and single examples drift
unchecked. So an SSL embeddings difference between two float32 runs says nothing (any CPU-vs-CUDA
comparison of them fails), while its loss does: one ulp moves it by 0.3 % here, not 10 %.

ROUNDING. A reference made with --perturb (`--devices cpu cpu --perturb ulp --save-tables FILE`)
holds each column's floor: the column's max abs difference between the reference's two runs.
Against it (--reference FILE), a table that fails its tolerances only in numeric columns whose
max abs difference is at most FLOOR_FACTOR (10) x that column's floor, with its rows, NaNs,
labels and integers lining up, is ROUNDING instead of FAIL, and so is an experiment whose
failing tables all are; this holds for the comparison with the reference and for the one
between this run's devices, in either --dtype. A float32 ROUNDING says that float32 cannot tell
rounding from a different computation there: the float64 comparison judges (against a float64
reference made with --perturb ulp, whose floors are some 1e7 times smaller: only sensitivity's
embeddings need them). Why 10: a floor is one draw of a discrete process; two draws (`ulp` and
`ulp-down`) of one column differ up to 9 times where both parted (ResNet1D, the CNN on
`shuffled`, pooling `max`), and up to 1 800 times where one hit a flip and the other did not
(pooling `none`, the lottery's analysis), there far inside the tolerances. A floor of 0 (keys,
columns one ulp does not move) excuses nothing, and without a perturbed reference nothing is
ROUNDING. The printed column tables give each column's `floor` (gpu_check_columns.csv too).

Timing. Per experiment and device: the wall time of the calls above (a job function's call is the
whole job: its training, evaluations and tables, the benchmark's test predictions, the SSL
embeddings and, with --ssl-probes on, its probes; making the datasets, the lottery mask store and
the lottery's tables are outside it), summed over the experiment's jobs, with
torch.cuda.synchronize() before the clock starts and before it stops, and the time per training
step: the wall time over the number of sequential steps of the protocols (engine steps 0..steps of
every job: steps + 1 each; an ensemble step trains all members of that job's ensemble at once; for
the metalearning experiments the steps are the unrolled inner steps). Evaluation is inside the wall
time. The first call of each experiment on a device includes torch.compile's compilation (with
--compile on; the inductor cache on disk may be cold); the second call (--second-call: auto = on
with --compile on) repeats the experiment in the same process with the compiled graphs already
made, and is reported as second_wall_s / second_ms_per_step; its tables are not compared. The CPU
run uses --threads threads (default 1, as the pipeline's jobs); the GPU run the same. With one
device twice (--devices cpu cpu, for a machine without a GPU) the second run reuses the graphs the
first compiled, and the comparison should find no difference at all.

Output: on stdout, per job and device its time and verdict, per experiment its columns (max abs
and max relative difference over its tables, values compared and outside the tolerance), then
the summary table; in DIR: gpu_check.csv (experiment, device, wall_s, steps, ms_per_step,
compared_values, max_abs_diff, verdict, ...; rewritten after every experiment),
gpu_check_columns.csv (the same per table and column), gpu_check.txt (everything printed) and
gpu_check_detail.log (the experiments' own progress lines). The exit code is 0 even when a
comparison fails; the last line says "gpu_check: N of M experiments agree within tolerance"
(", K within 10 x the rounding floor only" where some are ROUNDING; with --perturb "inputs
nudged by one ulp: N of M experiments stay within tolerance").
--deadline-s (default 400) stops the run at that many seconds, so that the outputs are written
within the time the machine is lent for: the running experiment is reported as TIMEOUT with the
jobs it finished (compared and timed), the ones not started as SKIPPED.

Reference tables made elsewhere. The CPU of the machine that has the GPU need not be a good
reference: its torch build (version, compiled kernels, thread count) may differ from the
project's, and a lent H100 machine's CPU run (torch 2.11, compiled) was found to part from both
its own GPU and the project's CPU build on the convolutional models, while the GPU agreed with
the project's CPU build. So the GPU can be compared with tables made on another machine:

    --save-tables FILE   after every experiment and at the end, write every finished job's
                         tables of every device to FILE, one gzip'd JSON file (portable across
                         Python, numpy and pandas versions; exact float32 and float64 values;
                         the largest table, SSL's embeddings, takes under 1 MiB a device),
                         keyed by (experiment, job, device label, table), with the run's
                         options, environment, commit and per-experiment verdicts
    --reference FILE     load such a file and, besides the comparison between this run's
                         devices, compare each job's tables of every device here with the
                         reference's tables of the same job from its first device, with the
                         same per-column tolerances

The reference must have been made with the same options: --compile, --ssl-probes, the preset
(smoke) and the resolved configuration (a hash of config.yaml + the preset as resolved), and its
experiments (--only) must include this run's; otherwise the run stops at once with exit code 2
and says what differs. A job the reference lacks (its run hit the deadline) fails against it.
--threads, --tf32 and --perturb are not checked (a reference made with --perturb is compared by
its first, unperturbed run). With --reference or --save-tables, --devices may name one
device (e.g. `--devices cuda`: no CPU run on the GPU machine, so the whole deadline goes to the
GPU; or `--devices cpu` to make a reference in half the time); with one device there is no
comparison between devices and an experiment that ran is DONE.

Against the reference the output adds: per job "vs reference: cpu PASS (n values), cuda FAIL
(...)", per experiment and device a column table "[exp] vs reference (cpu there), cuda:", in
gpu_check.csv the columns vs_reference_values, vs_reference_max_abs_diff and
vs_reference_verdict (PASS, ROUNDING, FAIL, or the experiment's own TIMEOUT / ERROR / SKIPPED), in
gpu_check_columns.csv rows whose `comparison` is "reference cpu vs cuda" (the rows between this
run's devices have "cpu vs cuda"), and the last line becomes "gpu_check: N of M experiments agree
within tolerance; vs reference (FILE): cpu K of M, cuda L of M".

The recommended procedure: make the reference on this project's own machine (its CPU build of
torch) with the options the GPU run will use, into a path inside the checkout that travels with
it to the GPU machine (one not ignored by git, or one passed to the device tool's carry; e.g.
gpu_reference/ref.json.gz, not committed), then run on the GPU machine with --reference:

    PYTHONPATH=. python3 benchmarks/gpu_check.py --devices cpu cpu --perturb ulp --compile on \\
        --second-call off --deadline-s 0 --save-tables gpu_reference/ref.json.gz --out /tmp/gc_ref
    PYTHONPATH=. python3 benchmarks/gpu_check.py --devices cpu cuda --compile on \\
        --reference gpu_reference/ref.json.gz --out $OUT

(`--devices cpu cpu --perturb ulp` gives the reference its rounding floors, "ROUNDING" above;
`--devices cpu cpu` alone checks that the CPU reproduces itself; `--devices
cuda` on the GPU machine leaves out its own CPU run.) --save-tables on the GPU machine too
(into $OUT) keeps its tables for a later look.
"""
import argparse
import contextlib
import datetime
import gzip
import hashlib
import json
import logging
import math
import os
import platform
import re
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from mnist1d.pipeline import compare
from mnist1d.pipeline.config import load_preset, resolve
from mnist1d.pipeline.device import select_device, set_threads

sys.path.insert(0, str(Path(__file__).resolve().parent))   # its jobs, in the module beside it
from gpu_check_jobs import DTYPES, JOBS, PERTURBATIONS, Datasets, run_dtype  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# The order they run in: fewest and smallest compiles first, the benchmark (whose GRU, unrolled
# over 40 positions, is by far the longest compile) last, so that a --deadline-s cuts the least.
# The GPU claim first: it trains nothing and is not worth losing to the deadline.
EXPERIMENTS = ("gpu_claim", "metalearn_lr", "afunc_fit", "sweeps", "double_descent", "lottery",
               "lottery_resume", "ssl", "ssl_variant", "sensitivity", "pooling", "metalearn_afunc",
               "custom_models", "benchmark")

# no torch.compile in them, whatever `compile` says (the smoke preset's sweeps do not compile:
# sweeps.defaults.compile is false)
UNCOMPILED = {"gpu_claim", "metalearn_lr", "afunc_fit", "sweeps"}
NOT_REPEATED = {"gpu_claim"}   # no second call: it trains nothing

# --- comparison: mnist1d.pipeline.compare ---------------------------------------------------

# the tolerances of each --dtype (mnist1d.pipeline.compare; the module docstring lists them)
TOLERANCE_SETS = {"float32": compare.DEVICE_TOLERANCES, "float64": compare.FLOAT64_TOLERANCES}


def compare_runs(reference_tables, other_tables, dtype="float32"):
    """Every table of a job against the reference run's, within the tolerances of `dtype`:
    {table name: compare.frame_comparison's result}."""
    return compare.frame_set_comparison(reference_tables, other_tables, TOLERANCE_SETS[dtype])


# --- tables saved to a file, and a reference made elsewhere ------------------------------------
# One gzip'd JSON file (portable across Python, numpy and pandas versions, unlike a pickle):
# {"format": TABLES_FORMAT, "version": 1, "options": the run's options (OPTION_NAMES),
#  "labels": its device labels, "environment", "created", "commit",
#  "experiments": {exp: {"verdict", "jobs_total", "jobs": [the finished jobs' names]}},
#  "tables": [{"experiment", "job", "device", "table", "columns": [[name, kind, dtype, values]]}]}

TABLES_FORMAT = "gpu_check tables"
TABLES_VERSION = 1
# the options a reference must share with the run compared with it (`experiments`: the
# reference's must include every experiment of the run)
OPTION_NAMES = ("preset", "compile", "ssl_probes", "dtype", "config_sha256", "experiments")
# what an option missing from a reference's file was when the file was made (files made before
# --dtype existed trained in float32)
OPTION_DEFAULTS = {"dtype": "float32"}


def run_options(args, config, experiments):
    """The options that decide what the tables hold: recorded in a saved file, checked against
    a reference's."""
    # the hash leaves out `compile`, which --compile sets and which is checked on its own
    text = json.dumps({k: v for k, v in config.items() if k != "compile"}, sort_keys=True,
                      default=str)
    return {"preset": "smoke", "compile": args.compile, "ssl_probes": args.ssl_probes,
            "dtype": getattr(args, "dtype", None) or "float32",
            "perturb": getattr(args, "perturb", None) or "off",
            "config_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "experiments": list(experiments)}


def options_mismatch(reference, here):
    """Lines saying how a reference's options differ from this run's (empty: it fits)."""
    lines = []
    for name in OPTION_NAMES:
        theirs = reference.get(name, OPTION_DEFAULTS.get(name))
        ours = here.get(name, OPTION_DEFAULTS.get(name))
        if name == "experiments":
            missing = [e for e in ours if e not in (theirs or [])]
            if missing:
                lines.append(f"experiments {', '.join(missing)} not in the reference (it has "
                             f"{', '.join(theirs or []) or 'none'}: --only)")
        elif name == "config_sha256":
            if theirs != ours:
                lines.append("the resolved configuration (config.yaml + the preset) differs: "
                             "config sha256 " + f"{str(theirs)[:12]} there, {ours[:12]} here")
        elif theirs != ours:
            flag = {"compile": "--compile", "ssl_probes": "--ssl-probes",
                    "dtype": "--dtype"}.get(name, name)
            lines.append(f"{flag} {theirs} there, {ours} here")
    return lines


def encode_column(series):
    """[kind, dtype, values] of one column, values JSON's: float32 numbers in their shortest
    float32 form (read back exactly), float64 in Python's repr (exact too), text as str."""
    dtype = str(series.dtype)
    has_na = bool(series.isna().any())
    if pd.api.types.is_bool_dtype(series) and not has_na:
        return ["bool", dtype, [bool(v) for v in series]]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        if pd.api.types.is_integer_dtype(series) and not has_na:
            return ["int", dtype, [int(v) for v in series]]
        if series.dtype == np.float32:
            return ["float", "float32", [float(str(v)) for v in series.to_numpy()]]
        return ["float", "float64", series.to_numpy(dtype=np.float64).tolist()]
    return ["text", dtype, [str(v) for v in series]]


def decode_column(kind, dtype, values):
    if kind == "bool":
        return np.array(values, dtype=bool)
    if kind == "int":
        return np.array(values, dtype=np.int64)
    if kind == "float":
        return np.array(values, dtype=np.float32 if dtype == "float32" else np.float64)
    return pd.Series(values, dtype=object)


def encode_table(frame):
    return [[name if isinstance(name, (str, int)) else str(name), *encode_column(frame[name])]
            for name in frame.columns]


def decode_table(columns):
    frame = pd.DataFrame({i: decode_column(kind, dtype, values)
                          for i, (_, kind, dtype, values) in enumerate(columns)})
    frame.columns = [name for name, *_ in columns]
    return frame


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except Exception:
        return None


def save_tables(path, tables, options, labels, experiments=None, environment=()):
    """Write `tables` ({(experiment, job, device label, table name): DataFrame}) and the run's
    options to one gzip'd JSON file at `path` (written to a temporary file, then renamed)."""
    doc = {"format": TABLES_FORMAT, "version": TABLES_VERSION, "options": options,
           "labels": list(labels), "environment": list(environment),
           "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "commit": git_commit(), "experiments": experiments or {},
           "tables": [{"experiment": exp, "job": job, "device": device, "table": table,
                       "columns": encode_table(frame)}
                      for (exp, job, device, table), frame in tables.items()]}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6) as f:
        json.dump(doc, f, separators=(",", ":"))
    os.replace(tmp, path)
    return path.stat().st_size


def load_tables(path):
    """A file of save_tables: its dict, "tables" as {(experiment, job, device, table):
    DataFrame}. Raises ValueError for a file that is not one."""
    doc = compare.read_versioned_json(path, TABLES_FORMAT, TABLES_VERSION,
                                      "a gpu_check tables file (--save-tables)")
    doc["tables"] = {(t["experiment"], t["job"], t["device"], t["table"]):
                     decode_table(t["columns"]) for t in doc["tables"]}
    return doc


class Reference:
    """Tables made elsewhere (--reference): the first device's tables of each job."""

    def __init__(self, path, doc):
        self.path, self.doc = path, doc
        self.label = doc["labels"][0]
        self.jobs, self.nudged, self.floor_cache = {}, {}, {}
        # made with --perturb ulp: its second run is its first with the inputs nudged by one ulp
        self.perturbed = (doc.get("options", {}).get("perturb") in ("ulp", "ulp-down")
                          and len(doc["labels"]) == 2)
        for (exp, job, device, table), frame in doc["tables"].items():
            if device == self.label:
                self.jobs.setdefault((exp, job), {})[table] = frame
            elif self.perturbed and device == doc["labels"][1]:
                self.nudged.setdefault((exp, job), {})[table] = frame

    def job_tables(self, exp, job):
        """{table name: DataFrame} of the reference's first device, None if it lacks the job."""
        return self.jobs.get((exp, job))

    def floors(self, exp, job, dtype):
        """The rounding floor of each column of the job's tables, {table: {column: max abs}}:
        how far the reference's run with its inputs nudged by one ulp (--perturb ulp) ended
        from its plain run; None where the reference has no such run of the job."""
        if (exp, job) not in self.floor_cache:
            plain, nudged = self.jobs.get((exp, job)), self.nudged.get((exp, job))
            self.floor_cache[exp, job] = None if not (plain and nudged) else {
                table: {c["column"]: c["max_abs"] for c in comparison["columns"]}
                for table, comparison in compare_runs(plain, nudged, dtype).items()}
        return self.floor_cache[exp, job]

    def describe(self):
        d = self.doc
        env = d.get("environment") or ["environment not recorded"]
        return (f"reference tables: {self.path} (made {d.get('created', '?')}, commit "
                f"{(d.get('commit') or '?')[:12]}, runs {' vs '.join(d['labels'])}; its "
                f"{self.label} run is compared with every run here"
                + (f"; its {d['labels'][1]} run, inputs nudged by one ulp, gives each column's "
                   f"rounding floor" if self.perturbed else "") + f"); there: {env[0]}"
                + "".join(f"; its {exp} is {e.get('verdict')} ({len(e.get('jobs', []))} of "
                          f"{e.get('jobs_total') or '?'} jobs)"
                          for exp, e in d.get("experiments", {}).items()
                          if e.get("verdict") not in FINISHED))


# --- configuration, datasets, timing ----------------------------------------------------------

def smoke_config(compile_steps):
    """The resolved smoke preset (config.yaml + workflow/presets/smoke.yaml); `compile` set."""
    presets = REPO / "workflow" / "presets"
    with open(REPO / "config.yaml") as f:
        base = yaml.safe_load(f)
    # resolve() takes the preset from `config` (Snakemake's: config.yaml with the command line
    # merged in), so the command line's preset goes there too, as Snakemake would put it
    config = resolve(dict(base, preset="smoke"), {"preset": "smoke"}, str(presets))
    missing = unapplied_keys(load_preset("smoke", presets), config)
    if missing:
        raise RuntimeError(f"the smoke preset's {missing} did not reach the resolved config")
    config["compile"] = bool(compile_steps)
    return config


def unapplied_keys(overrides, config, prefix=""):
    """The dotted keys of `overrides` whose values `config` does not have."""
    out = []
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            out += unapplied_keys(value, config[key], f"{prefix}{key}.")
        elif config.get(key) != value:
            out.append(f"{prefix}{key}")
    return out


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Timer:
    """Wall time of the timed calls of one job on one device (its job function's call), CUDA
    synchronised at both ends of every timed section."""

    def __init__(self, device):
        self.device, self.seconds = device, 0.0

    @contextlib.contextmanager
    def __call__(self):
        synchronize(self.device)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            synchronize(self.device)
            self.seconds += time.perf_counter() - t0


# --- the run ----------------------------------------------------------------------------------

class DeadlineReached(BaseException):
    """Raised by SIGALRM at --deadline-s (a BaseException: no `except Exception` swallows it)."""


class NotInDtype(Exception):
    """An experiment whose jobs cannot train in the --dtype asked for: it is SKIPPED."""


class Output:
    """Everything printed goes to stdout (flushed) and to DIR/gpu_check.txt."""

    def __init__(self, out_dir):
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.text = open(self.dir / "gpu_check.txt", "w", buffering=1)

    def say(self, line=""):
        print(line, flush=True)
        self.text.write(line + "\n")
        self.text.flush()

    def detail_logger(self):
        """A logger for the experiments' own progress lines: DIR/gpu_check_detail.log only."""
        log = logging.getLogger("gpu_check.detail")
        log.handlers.clear()
        log.propagate = False
        log.setLevel(logging.INFO)
        handler = logging.FileHandler(self.dir / "gpu_check_detail.log", mode="w")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        return log


def device_labels(names):
    """Labels of the runs: the device names, a repeated one numbered (cpu, cpu#2)."""
    labels = []
    for name in names:
        label, i = name, 2
        while label in labels:
            label, i = f"{name}#{i}", i + 1
        labels.append(label)
    return labels


def environment_lines(args, labels):
    lines = [f"python {platform.python_version()}, torch {torch.__version__}, numpy "
             f"{np.__version__}, pandas {pd.__version__}; {os.cpu_count()} CPUs visible, "
             f"torch threads {torch.get_num_threads()} (every run)"]
    if torch.cuda.is_available():
        lines.append(f"CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}; "
                     f"float32 matmul precision {torch.get_float32_matmul_precision()}, "
                     f"cuDNN allow_tf32 {torch.backends.cudnn.allow_tf32}, "
                     f"cuda matmul allow_tf32 {torch.backends.cuda.matmul.allow_tf32}")
    else:
        lines.append("CUDA not available")
    runs = (f"runs {' vs '.join(labels)} (the first is the reference)" if len(labels) == 2
            else f"run {labels[0]} only (no comparison between devices)")
    lines.append(f"{runs}; compile {args.compile}; second call {args.second_call}; SSL probes "
                 f"{args.ssl_probes}; deadline {args.deadline_s:g} s")
    if getattr(args, "perturb", "off") != "off":
        lines.append(f"perturb {args.perturb}: the {labels[1]} run's inputs (x, x_test of every "
                     f"dataset) nudged by one ulp of {args.dtype} "
                     f"{'toward' if args.perturb == 'ulp-down' else 'away from'} zero, the "
                     f"{labels[0]} run's not: the differences below are the rounding floor of "
                     f"each column")
    tolerances = TOLERANCE_SETS[args.dtype]
    lines.append(f"dtype {args.dtype}; tolerances (mnist1d.pipeline.compare."
                 f"{'FLOAT64' if args.dtype == 'float64' else 'DEVICE'}_TOLERANCES): "
                 + ", ".join(f"{kind} {compare.describe_tolerance(kind, tolerances)}"
                             for kind in tolerances) + "; labels and integers equal")
    return lines


FINISHED = ("PASS", "ROUNDING", "FAIL", "DONE")   # verdicts of an experiment whose every job ran

# A float32 difference up to FLOOR_FACTOR times a column's rounding floor (the difference one ulp
# of input makes by the end of the same job, measured on the reference's machine: --perturb ulp)
# is rounding amplified by training, not evidence of a different computation (the docstring says
# why 10).
FLOOR_FACTOR = 10


def judge_by_floor(comparison, floors):
    """Marks the tables of `comparison` (compare_runs' result, {table: ...}) that fail only
    within the rounding floor: every column outside its tolerance has max_abs <= FLOOR_FACTOR x
    its floor (floors: Reference.floors' {table: {column: floor}}), and nothing else is wrong
    (rows, NaNs, labels and integers line up). Each column gets its "floor" (NaN: none), each
    table "rounding" (True: failed within the floor)."""
    for table, c in comparison.items():
        floor = (floors or {}).get(table, {})
        for column in c["columns"]:
            column["floor"] = floor.get(column["column"], math.nan)
        c["rounding"] = bool(
            floors is not None and not c["ok"] and not c["problems"]
            and all(col["ok"] or col["max_abs"] <= FLOOR_FACTOR * col["floor"]
                    for col in c["columns"]))
    return comparison


def verdict_of(summary):
    """PASS: within tolerance; ROUNDING: outside it only within FLOOR_FACTOR x the rounding
    floor (float32 cannot tell: the float64 comparison judges); FAIL."""
    return "PASS" if summary["ok"] else "ROUNDING" if summary.get("rounding") else "FAIL"


def new_result(labels):
    return {"verdict": "SKIPPED", "jobs": 0, "jobs_total": None, "unit": "",
            "steps": 0, "wall": {label: 0.0 for label in labels}, "second": {},
            "tables": {}, "errors": 0, "done": [],
            "raw": {},                                    # (job, label, table) -> DataFrame
            "vs_reference": {label: {} for label in labels}}   # label -> {"job: table": comp.}


def tables_comparison(tables):
    """Over the comparisons {"job: table": compare.frame_comparison result} of an experiment."""
    tables = tables.values()
    return {"ok": bool(tables) and all(t["ok"] for t in tables),
            "rounding": bool(tables) and all(t["ok"] or t.get("rounding") for t in tables),
            "values": sum(t["values"] for t in tables),
            "max_abs": max((t["max_abs"] for t in tables if not math.isnan(t["max_abs"])),
                           default=math.nan)}


def experiment_comparison(result):
    return tables_comparison(result["tables"])


def reference_verdict(result, label):
    """An experiment's verdict against the reference for one device: PASS or FAIL when every
    job ran, else its own verdict (TIMEOUT, ERROR, SKIPPED)."""
    if result["verdict"] not in FINISHED:
        return result["verdict"]
    return verdict_of(tables_comparison(result["vs_reference"][label]))


def summary_rows(results, labels, reference=None):
    rows = []
    for exp, result in results.items():
        comparison = experiment_comparison(result)
        steps = result["steps"]
        for label in labels:
            wall = result["wall"][label] if result["jobs"] else math.nan
            second = result["second"].get(label, math.nan)
            row = {
                "experiment": exp, "device": label, "wall_s": round(wall, 3), "steps": steps,
                "ms_per_step": round(1000 * wall / steps, 3) if steps else math.nan,
                "second_wall_s": round(second, 3),
                "second_ms_per_step": round(1000 * second / steps, 3) if steps else math.nan,
                "compared_values": comparison["values"], "max_abs_diff": comparison["max_abs"],
                "verdict": result["verdict"],
                "jobs": f"{result['jobs']}/{result['jobs_total'] or '?'}",
                "step_unit": result["unit"]}
            if reference is not None:
                vs = tables_comparison(result["vs_reference"][label])
                row.update({"vs_reference_values": vs["values"],
                            "vs_reference_max_abs_diff": vs["max_abs"],
                            "vs_reference_verdict": reference_verdict(result, label)})
            rows.append(row)
    return pd.DataFrame(rows)


def column_rows(results, labels, reference=None):
    """One row per compared table column (and per problem); `comparison` names the two runs:
    "cpu vs cuda" within this run, "reference cpu vs cuda" against the reference's tables."""
    rows = []

    def add(exp, comparison_name, tables):
        for table, comparison in tables.items():
            for c in comparison["columns"]:
                rows.append({"experiment": exp, "comparison": comparison_name, "table": table,
                             **c})
            for problem in comparison["problems"]:
                rows.append({"experiment": exp, "comparison": comparison_name, "table": table,
                             "column": "", "kind": "problem", "tolerance": problem, "ok": False})

    for exp, result in results.items():
        add(exp, " vs ".join(labels), result["tables"])
        if reference is not None:
            for label in labels:
                add(exp, f"reference {reference.label} vs {label}",
                    result["vs_reference"][label])
    return pd.DataFrame(rows)


def write_outputs(out, results, labels, reference=None):
    summary_rows(results, labels, reference).to_csv(out.dir / "gpu_check.csv", index=False)
    column_rows(results, labels, reference).to_csv(out.dir / "gpu_check_columns.csv",
                                                   index=False)


def saved_tables(results):
    """{(experiment, job, device label, table): DataFrame} of every finished job."""
    return {(exp, job, label, table): frame for exp, result in results.items()
            for (job, label, table), frame in result["raw"].items()}


def write_tables(path, results, options, labels, environment):
    experiments = {exp: {"verdict": r["verdict"], "jobs_total": r["jobs_total"],
                         "jobs": list(r["done"])} for exp, r in results.items()}
    return save_tables(path, saved_tables(results), options, labels, experiments, environment)


def aggregate_columns(tables):
    """Per column over all tables of an experiment: kind, tolerance, values, max abs, max rel,
    values outside. Numbered columns of one kind (output0 ... output15) are taken together."""
    out = {}
    for comparison in tables.values():
        for c in comparison["columns"]:
            name = re.sub(r"\d+$", "*", str(c["column"]))
            row = out.setdefault((name, c["kind"]), {
                "column": name, "kind": c["kind"], "tolerance": c["tolerance"], "values": 0,
                "max_abs": math.nan, "max_rel": math.nan, "outside": 0, "floor": math.nan})
            row["values"] += c["values"]
            row["outside"] += c["outside"]
            for key in ("max_abs", "max_rel", "floor"):
                if key not in c:
                    continue
                if not math.isnan(c[key]):
                    row[key] = c[key] if math.isnan(row[key]) else max(row[key], c[key])
    return out


def print_comparison(out, title, tables, jobs):
    comparison = tables_comparison(tables)
    verdict = verdict_of(comparison)
    columns = aggregate_columns(tables).values()
    floors = any(not math.isnan(c["floor"]) for c in columns)
    out.say(f"{title} {len(tables)} tables of {jobs} jobs, "
            f"{comparison['values']} values compared: {verdict}"
            + (f" (outside the tolerance only within {FLOOR_FACTOR} x the rounding floor of the "
               f"reference: in float32 the --dtype float64 comparison judges)"
               if verdict == "ROUNDING" else ""))
    out.say(f"    {'column':22s} {'kind':13s} {'tolerance':20s} {'values':>7s} {'max abs':>10s} "
            f"{'max rel':>10s} {'outside':>7s}" + (f" {'floor':>10s}" if floors else ""))
    for c in columns:
        out.say(f"    {c['column']:22s} {c['kind']:13s} {c['tolerance']:20s} {c['values']:7d} "
                f"{c['max_abs']:10.3g} {c['max_rel']:10.3g} {c['outside']:7d}"
                + (f" {c['floor']:10.3g}" if floors else ""))
    for table, t in tables.items():
        for problem in t["problems"]:
            out.say(f"    table {table}: {problem}")


def compare_with_reference(reference, exp, job_name, tables, dtype="float32"):
    """compare_runs of the reference's tables of the job and `tables`, keyed "job: table"; a
    job the reference lacks is one failed entry."""
    ref_tables = reference.job_tables(exp, job_name)
    if ref_tables is None:
        ran = reference.doc.get("experiments", {}).get(exp, {}).get("verdict", "not run")
        return {f"{job_name}: (job)": {
            "ok": False, "values": 0, "max_abs": math.nan, "columns": [],
            "problems": [f"job {job_name!r} is not in the reference (its {exp}: {ran})"]}}
    comparison = compare_runs(ref_tables, tables, dtype)
    judge_by_floor(comparison, reference.floors(exp, job_name, dtype))
    return {f"{job_name}: {name}": c for name, c in comparison.items()}


def run_experiment(exp, result, config, datasets, devices, labels, log, out, args,
                   reference=None):
    """First calls: every job of `exp` on each device in turn, its tables compared (with each
    other, and with the reference's)."""
    datasets.perturbing = False
    jobs, result["unit"] = JOBS[exp](config, datasets, args)
    result["jobs_total"] = len(jobs)
    wanted = run_dtype(args)
    trains_in = [getattr(job.run, "dtype", torch.float32) for job in jobs]
    other = sorted({str(dtype) for dtype in trains_in if dtype != wanted})
    if other:
        raise NotInDtype(f"[{exp}] SKIPPED: its jobs train in {', '.join(other)} only, not "
                         f"{wanted} (its jobs function here does not pass --dtype on)")
    compiles = args.compile == "on" and exp not in UNCOMPILED
    compile_note = ", incl. compile" if compiles else ""
    for job in jobs:
        try:
            tables = {}
            for i, (device, label) in enumerate(zip(devices, labels)):
                log.info(f"=== {exp} / {job.name} on {label}, first call")
                timer = Timer(device)
                datasets.perturbing = i == 1   # --perturb: the second run's inputs nudged
                made = job.run(device, timer, log)
                tables[label], checks = made if isinstance(made, tuple) else (made, {})
                result["wall"][label] += timer.seconds
                per_step = (f", {job.steps} steps, {1000 * timer.seconds / job.steps:.2f} ms/step"
                            if job.steps else "")
                out.say(f"    {label:6s} {job.name}: {timer.seconds:.2f} s{compile_note}"
                        f"{per_step}")
                for name, check in checks.items():   # verdicts made on this device alone
                    result["tables"][f"{job.name}: {name} ({label})"] = check
                    out.say(f"    {label:6s} {job.name}: {name}: "
                            f"{'PASS' if check['ok'] else 'FAIL'}"
                            + "".join(f"\n        {line}" for line in check["problems"]))
            if len(labels) == 2:
                comparison = compare_runs(*(tables[label] for label in labels), args.dtype)
                if reference is not None:
                    judge_by_floor(comparison, reference.floors(exp, job.name, args.dtype))
                result["tables"].update({f"{job.name}: {name}": c
                                         for name, c in comparison.items()})
                out.say(f"    {job.name}: {sum(c['values'] for c in comparison.values())} "
                        f"values compared, {verdict_of(tables_comparison(comparison))}")
            if reference is not None:
                verdicts = []
                for label in labels:
                    vs = compare_with_reference(reference, exp, job.name, tables[label],
                                                args.dtype)
                    result["vs_reference"][label].update(vs)
                    summary = tables_comparison(vs)
                    verdicts.append(f"{label} {verdict_of(summary)} "
                                    f"({summary['values']} values)")
                out.say(f"    {job.name} vs reference: {', '.join(verdicts)}")
            for label in labels:
                result["raw"].update({(job.name, label, name): frame
                                      for name, frame in tables[label].items()})
            result["jobs"] += 1
            result["steps"] += job.steps
            result["done"].append(job.name)
        except Exception:
            result["errors"] += 1
            out.say(f"[{exp}] {job.name}: ERROR\n" + traceback.format_exc())
    return jobs


def final_line(results, labels, reference=None, perturb="off"):
    n = len(results)
    if len(labels) == 2:
        agree = sum(r["verdict"] == "PASS" for r in results.values())
        line = f"gpu_check: {agree} of {n} experiments agree within tolerance"
        if perturb != "off":
            line = (f"gpu_check: inputs nudged by one ulp: {agree} of {n} experiments stay within "
                    f"tolerance (the others' rounding floor exceeds it)")
        rounding = sum(r["verdict"] == "ROUNDING" for r in results.values())
        if rounding:
            line += (f", {rounding} within {FLOOR_FACTOR} x the rounding floor only (the float64 "
                     f"comparison judges them)")
    else:
        done = sum(r["verdict"] == "DONE" for r in results.values())
        line = f"gpu_check: {labels[0]} only, {done} of {n} experiments ran"
    if reference is not None:
        counts = []
        for label in labels:
            verdicts = [reference_verdict(r, label) for r in results.values()]
            rounding = verdicts.count("ROUNDING")
            counts.append(f"{label} {verdicts.count('PASS')} of {n}"
                          + (f" (+{rounding} ROUNDING)" if rounding else ""))
        line += f"; vs reference ({reference.path}): {', '.join(counts)}"
    return line


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="directory for the results")
    parser.add_argument("--compile", choices=("on", "off"), default="on")
    parser.add_argument("--only", nargs="+", choices=EXPERIMENTS, metavar="EXP",
                        help=f"run these experiments only (of {', '.join(EXPERIMENTS)})")
    parser.add_argument("--devices", nargs="+", choices=("cpu", "cuda"), default=["cpu", "cuda"],
                        metavar="DEVICE",
                        help="the two runs compared, the first the reference (default: cpu cuda);"
                             " one device only with --reference or --save-tables")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--second-call", choices=("auto", "on", "off"), default="auto",
                        help="time the jobs again, graphs compiled (auto: with --compile on)")
    parser.add_argument("--ssl-probes", choices=("on", "off"), default="off",
                        help="run the SSL job's kNN and linear probes (CPU scikit-learn, about a "
                             "minute per run) on both runs and compare them (default off)")
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float32",
                        help="train every job in this dtype on every device and compare within "
                             "its tolerances (float64: to 1e-9, accuracies exactly; default "
                             "float32, what the pipeline runs)")
    parser.add_argument("--perturb", choices=PERTURBATIONS, default="off",
                        help="ulp: the second run's inputs (every dataset's x and x_test) nudged "
                             "by one unit in the last place of --dtype away from zero (ulp-down: "
                             "toward zero), the first run's not: "
                             "with --devices cpu cpu, how far training carries one rounding "
                             "(the rounding floor of each column)")
    parser.add_argument("--tf32", choices=("default", "off"), default="default",
                        help="off: no TF32 in cuDNN convolutions (PyTorch's default allows it), "
                             "to tell TF32 rounding from a real difference")
    parser.add_argument("--deadline-s", type=float, default=400.0,
                        help="stop at this many seconds and write what is done (0: never)")
    parser.add_argument("--save-tables", metavar="FILE",
                        help="write every job's tables of every device and the run's options to "
                             "FILE (gzip'd JSON), to serve as another run's --reference")
    parser.add_argument("--reference", metavar="FILE",
                        help="a --save-tables file made elsewhere with the same options: compare "
                             "every device's tables with its first device's too")
    args = parser.parse_args(argv)
    if len(args.devices) > 2:
        parser.error("--devices takes one or two devices")
    if args.perturb != "off" and len(args.devices) != 2:
        parser.error("--perturb nudges the second run's inputs: give two devices")
    if len(args.devices) == 1 and not (args.reference or args.save_tables):
        parser.error("one device compares nothing: give two, or --reference or --save-tables")
    started = time.perf_counter()
    if args.tf32 == "off":
        torch.backends.cudnn.allow_tf32 = False
    if args.second_call == "auto":
        args.second_call = args.compile

    out = Output(args.out)
    log = out.detail_logger()
    try:
        devices = [select_device(name) for name in args.devices]
    except RuntimeError as err:
        out.say(f"gpu_check: {err}; run with --devices cpu cpu where there is no GPU")
        return 2
    labels = device_labels(args.devices)
    experiments = [e for e in EXPERIMENTS if not args.only or e in args.only]
    config = smoke_config(args.compile == "on")
    options = run_options(args, config, experiments)
    reference = None
    if args.reference:
        try:
            doc = load_tables(args.reference)
        except (OSError, ValueError) as err:
            out.say(f"gpu_check: cannot use --reference {args.reference}: {err}")
            out.text.close()
            return 2
        mismatch = options_mismatch(doc.get("options", {}), options)
        if mismatch:
            out.say(f"gpu_check: the reference {args.reference} was made with other options "
                    f"than this run's, so its tables are not comparable:")
            for line in mismatch:
                out.say(f"  {line}")
            out.say("  make it again with this run's --compile, --only, --ssl-probes and --dtype "
                    "(and this checkout's config.yaml and presets), e.g. benchmarks/gpu_check.py "
                    f"--devices cpu --compile {args.compile} --ssl-probes {args.ssl_probes} "
                    f"--dtype {args.dtype} "
                    f"--only {' '.join(experiments)} --save-tables FILE --out DIR")
            out.text.close()
            return 2
        reference = Reference(args.reference, doc)
    set_threads(args.threads)
    # every experiment compiles the engine's step for its own models and devices in this one
    # process (the pipeline runs each job in its own): room for all of them in dynamo's cache
    for name in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit",
                 "accumulated_recompile_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, max(getattr(torch._dynamo.config, name), 512))

    out.say(f"gpu_check: smoke preset, {len(experiments)} experiments: {', '.join(experiments)}")
    environment = environment_lines(args, labels)
    for line in environment:
        out.say("  " + line)
    if reference is not None:
        out.say("  " + reference.describe())
    datasets = Datasets(config, out.say, args.perturb, run_dtype(args))
    for device in devices:
        if device.type == "cuda":   # context and cuBLAS set up before any clock runs
            a = torch.randn(64, 64, device=device)
            (a @ a).sum().item()
            synchronize(device)

    def on_alarm(signum, frame):
        raise DeadlineReached()

    if args.deadline_s > 0:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, args.deadline_s)

    results = {exp: new_result(labels) for exp in experiments}
    all_jobs = {}
    deadline_hit = False
    try:
        for exp in experiments:
            result = results[exp]
            result["verdict"] = "RUNNING"
            out.say(f"[{exp}] ({time.perf_counter() - started:.0f} s since start)")
            try:
                all_jobs[exp] = run_experiment(exp, result, config, datasets, devices, labels,
                                               log, out, args, reference)
                summary = experiment_comparison(result)
                if result["errors"]:
                    result["verdict"] = "ERROR"
                elif len(labels) == 1:   # nothing compared between devices; a check on one can fail
                    result["verdict"] = ("DONE" if summary["ok"] or not result["tables"]
                                         else "FAIL")
                else:
                    result["verdict"] = verdict_of(summary)
                if result["tables"]:
                    print_comparison(out, f"[{exp}]", result["tables"], result["jobs"])
                if reference is not None and result["jobs"]:
                    for label in labels:
                        print_comparison(out, f"[{exp}] vs reference ({reference.label} there), "
                                              f"{label}:", result["vs_reference"][label],
                                         result["jobs"])
            except NotInDtype as skipped:
                result["verdict"] = "SKIPPED"
                out.say(str(skipped))
            except Exception:
                result["verdict"] = "ERROR"
                out.say(f"[{exp}] ERROR\n" + traceback.format_exc())
            write_outputs(out, results, labels, reference)
            if args.save_tables:
                write_tables(args.save_tables, results, options, labels, environment)
        if args.second_call == "on":
            out.say(f"second calls ({time.perf_counter() - started:.0f} s since start)")
            for exp, jobs in all_jobs.items():
                if results[exp]["verdict"] not in FINISHED or exp in NOT_REPEATED:
                    continue
                for i, (device, label) in enumerate(zip(devices, labels)):
                    timer = Timer(device)
                    datasets.perturbing = i == 1
                    try:
                        for job in jobs:
                            log.info(f"=== {exp} / {job.name} on {label}, second call")
                            job.run(device, timer, log)
                    except Exception:
                        out.say(f"[{exp}] {label}: second call ERROR\n" + traceback.format_exc())
                        continue
                    results[exp]["second"][label] = timer.seconds
                    out.say(f"    {label:6s} {exp}: second call {timer.seconds:.2f} s, "
                            f"{1000 * timer.seconds / results[exp]['steps']:.2f} ms/step")
                write_outputs(out, results, labels, reference)
    except DeadlineReached:
        deadline_hit = True
        for result in results.values():
            if result["verdict"] == "RUNNING":
                result["verdict"] = "TIMEOUT"
        out.say(f"gpu_check: deadline of {args.deadline_s:g} s reached; what was done is below "
                f"(a TIMEOUT experiment's numbers cover the jobs it finished)")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)

    write_outputs(out, results, labels, reference)
    if args.save_tables:
        size = write_tables(args.save_tables, results, options, labels, environment)
        out.say(f"tables of {sum(r['jobs'] for r in results.values())} jobs x {len(labels)} "
                f"devices saved to {args.save_tables} ({size / 2**20:.2f} MiB)")
    table = summary_rows(results, labels, reference)
    out.say("")
    out.say(f"gpu_check summary: {args.dtype}, compile {args.compile}; wall_s, ms_per_step: "
            f"the first call{' (incl. compile)' if args.compile == 'on' else ''}, the job "
            f"functions' calls (datasets made outside), evaluations included; second_*: the same "
            f"jobs again in this process"
            f"{', compiled graphs reused' if args.compile == 'on' else ''}; "
            f"{time.perf_counter() - started:.0f} s in all")
    if reference is not None:
        out.say(f"  vs_reference_*: each device's tables against the {reference.label} run of "
                f"{reference.path}, same tolerances")
    for exp, result in results.items():
        out.say(f"  {exp}: " + ("no job finished" if not result["jobs"] else
                                f"one step = one {result['unit']}" if result["steps"] else
                                result["unit"]))
    with pd.option_context("display.width", 250, "display.max_columns", 25):
        out.say(table.drop(columns="step_unit").to_string(index=False))
    out.say(final_line(results, labels, reference, args.perturb))
    out.text.close()
    if deadline_hit:   # a compile may have been cut off: do not wait for its workers at exit
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
