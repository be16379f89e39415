"""The whole double-descent experiment through the pipeline vs a plain per-run loop and vs the
floating-point floor.

    PYTHONPATH=. python benchmarks/speed_double_descent.py [--cores 2] [--preset paper]
        [--workdir DIR] [--skip-run] [--plain-steps 30] [--plain-every 1]

1. Runs `snakemake --cores N` for the double-descent targets (figures, table, thresholds) in
   `--workdir` with the chosen preset (default: the paper protocol, config.yaml's seeds) and
   times it (wall clock); `--skip-run` only reads an existing run's per-job timings.
2. Measures the plain per-run loop (nn.Module, torch.optim.SGD with momentum, per-epoch
   reshuffling, batch 100: mnist1d.train.train_plain's loop) for every model of the experiment
   (every `--plain-every`-th size), `--plain-steps` steps each, on N threads, and extrapolates to
   the protocol's steps: the time a loop over the runs would take.
   With `--project`, instead of running the pipeline, it times `--plain-steps` steps of every
   planned job's padded-ensemble step (as the jobs run it: compiled or eager, 1 thread) and
   projects the pipeline's time: each job's steps x its step time (+ its compile time), the jobs
   spread largest-first over N cores. A projection, said so in the output.
3. Measures the machine's dense fp32 matmul rate on N threads (1000 x 1000 products) and divides
   the experiment's floating-point operations (training: 6 flops per multiply-add per example,
   unpadded; evaluation: 2) by it: the floor. Prints the measured time over the floor.
Absolute times drift on shared machines: the ratios inside one run are what count.
"""
import argparse
import glob
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import yaml

from mnist1d.pipeline import config as config_lib
from mnist1d.experiments import double_descent as dd
from mnist1d import models

REPO = Path(__file__).resolve().parent.parent
TARGETS = ["results/figures/double_descent.png", "results/figures/double_descent_mse.png",
           "results/double_descent/summary.md"]


def section_of(preset):
    cfg = yaml.safe_load(open(REPO / "config.yaml"))
    return config_lib.resolve(cfg | {"preset": preset}, {}, REPO / "workflow/presets")["double_descent"]


def matmul_rate(threads, n=1000, seconds=2.0):
    """Dense fp32 matmul rate (flop/s) on `threads` threads: the best of several blocks."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        for _ in range(5):
            a @ b
        best = max(best, 5 * 2 * n ** 3 / (time.perf_counter() - t0))
    return best


def plain_step_time(arch, size, loss, steps, threads, n_train=4000, batch=100):
    """Seconds per step of the plain loop of one model: the best of 3 blocks after warm-up."""
    run = plain_stepper(arch, size, loss, threads, n_train, batch)
    run(3)
    best = float("inf")
    for _ in range(3):     # the best of 3 blocks: load spikes would flatter the pipeline
        t0 = time.perf_counter()
        run(steps)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def plain_stepper(arch, size, loss, threads, n_train=4000, batch=100):
    """A function running n steps of the plain loop of one model (see plain_step_time)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = torch.randn(n_train, 40), torch.randint(0, 10, (n_train,))
    net = models.build(dd.model_spec(arch, size))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    state = {"order": torch.randperm(n_train, generator=generator), "s": 0}

    def run(n):
        for _ in range(n):
            start = (state["s"] * batch) % n_train
            if start < batch:
                state["order"] = torch.randperm(n_train, generator=generator)
            idx = state["order"][start:start + batch]
            out = net(x[idx])
            if loss == "mse":
                value = F.mse_loss(out, F.one_hot(y[idx], 10).float())
            else:
                value = F.cross_entropy(out, y[idx])
            opt.zero_grad()
            value.backward()
            opt.step()
            state["s"] += 1
    return run


def interleaved_job_ratio(job, section, steps, blocks, threads):
    """Median seconds per step of the job's padded ensemble (eager) and of the plain loops of all
    its members (summed), timed in interleaved blocks so that load changes hit both alike."""
    from mnist1d import specs, train

    torch.set_num_threads(threads)
    members = dd.job_members(job)
    spec, params, masks = dd.padded_ensemble(job["arch"], [(s, seed) for s, _, seed in members])
    protocol = specs.protocol_of(dd.engine_protocol(section, job["loss"], 4000))
    state = train.init_state(params, protocol)
    step = train.make_step(spec, protocol, masks)
    x, y = torch.randn(4000, 40), torch.randint(0, 10, (len(members), 4000))
    batches = train.Batches(x, y, protocol, [seed for _, _, seed in members])
    plains = [plain_stepper(job["arch"], size, job["loss"], threads) for size, _, _ in members]
    counter = {"s": 0}

    def ensemble(n):
        for _ in range(n):
            step(params, state, *batches(counter["s"]))
            counter["s"] += 1

    ensemble(2)
    for p in plains:
        p(2)
    ours, theirs = [], []
    for _ in range(blocks):
        t0 = time.perf_counter()
        ensemble(steps)
        ours.append((time.perf_counter() - t0) / steps)
        t0 = time.perf_counter()
        for p in plains:
            p(steps)
        theirs.append((time.perf_counter() - t0) / steps)
    return float(np.median(ours)), float(np.median(theirs))


def job_step_time(job, section, steps, compile):
    """(seconds per step, seconds of the first call) of one job's padded-ensemble step."""
    from mnist1d import specs, train

    torch.set_num_threads(1)
    members = dd.job_members(job)
    spec, params, masks = dd.padded_ensemble(job["arch"], [(s, seed) for s, _, seed in members])
    protocol = specs.protocol_of(dd.engine_protocol(section, job["loss"], 4000))
    state = train.init_state(params, protocol)
    step = train.make_step(spec, protocol, masks, compile=compile)
    x = torch.randn(4000, 40)
    y = torch.randint(0, 10, (len(members), 4000))
    batches = train.Batches(x, y, protocol, [seed for _, _, seed in members])
    t0 = time.perf_counter()
    step(params, state, *batches(0))
    first = time.perf_counter() - t0
    for s in range(1, 4):
        step(params, state, *batches(s))
    t0 = time.perf_counter()
    for s in range(steps):
        step(params, state, *batches(s))
    return (time.perf_counter() - t0) / steps, first


def project(section, cores, steps_timed, compile):
    """Projected wall time of the training jobs on `cores` single-thread workers."""
    per_epoch = -(-4000 // section["batch_size"])
    steps = section["epochs"] * per_epoch
    jobs = sorted(dd.plan_jobs(section), key=dd.job_cost, reverse=True)
    workers, total = [0.0] * cores, 0.0
    for job in jobs:
        per_step, first = job_step_time(job, section, steps_timed, compile)
        seconds = steps * per_step + (first if compile else 0.0)
        total += seconds
        workers[workers.index(min(workers))] += seconds      # largest first, to the freest core
        print(f"  {job['name']:24s} {len(dd.job_members(job)):3d} members, padded to "
              f"{max(job['sizes']):3d}: {1e3 * per_step:6.2f} ms/step, first call {first:5.1f} s "
              f"-> {seconds:6.0f} s", flush=True)
    return max(workers), total


def experiment_flops(section, n_train=4000, n_test=12000):
    """Useful floating-point operations of the whole experiment (unpadded models)."""
    per_epoch = -(-n_train // section["batch_size"])
    steps = section["epochs"] * per_epoch
    evals = section["epochs"] // section["eval_every_epochs"] + 2
    total = 0.0
    for arch in dd.ARCHS:
        sub = section.get(arch)
        if not sub:
            continue
        runs = len(sub["noise"]) * len(section["seeds"]) * len(sub["losses"])
        macs = sum(dd.macs_per_example(arch, s) for s in sub["sizes"])
        total += runs * (6.0 * section["batch_size"] * steps + 2.0 * evals * (n_train + n_test)) * macs
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--workdir", default="bench_dd")
    parser.add_argument("--skip-run", action="store_true")
    parser.add_argument("--only", choices=dd.ARCHS, help="run only this architecture's curves")
    parser.add_argument("--project", action="store_true",
                        help="time every job's step instead of running the pipeline")
    parser.add_argument("--eager", action="store_true", help="with --project: no torch.compile")
    parser.add_argument("--interleaved", action="store_true",
                        help="per job: eager ensemble step vs the plain loops of its members, "
                             "interleaved blocks (robust ratios on a loaded machine); then exit")
    parser.add_argument("--plain-steps", type=int, default=30)
    parser.add_argument("--plain-every", type=int, default=1, help="time every k-th size")
    args = parser.parse_args()
    section = section_of(args.preset)
    extra = []
    if args.only:
        for arch in dd.ARCHS:
            if arch != args.only:
                section[arch] = None
                extra.append(f"double_descent={{{arch}: {{sizes: []}}}}")
    workdir = Path(args.workdir).resolve()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, --cores {args.cores}, preset "
          f"{args.preset}, load average before: {os.getloadavg()}", flush=True)

    if args.interleaved:
        steps = section["epochs"] * -(-4000 // section["batch_size"])
        print(f"INTERLEAVED: per job, {args.plain_steps} steps per block, 3 blocks, medians; "
              f"eager ensemble on 1 thread vs plain loops on 1 thread", flush=True)
        total_ours = total_theirs = 0.0
        for job in sorted(dd.plan_jobs(section), key=dd.job_cost, reverse=True):
            ours, theirs = interleaved_job_ratio(job, section, args.plain_steps, 3, 1)
            total_ours += ours * steps
            total_theirs += theirs * steps
            print(f"  {job['name']:24s} {len(dd.job_members(job)):3d} members: ensemble "
                  f"{1e3 * ours:7.2f} ms/step, plain loops {1e3 * theirs:8.2f} ms/step "
                  f"({theirs / ours:5.1f}x)", flush=True)
        rate = matmul_rate(1)
        flops = experiment_flops(section)
        print(f"RESULT interleaved: padded ensembles {total_ours:.0f} job-seconds (eager, 1 thread) "
              f"vs plain loops {total_theirs:.0f} s: {total_theirs / total_ours:.1f}x; on "
              f"{args.cores} cores ideally {total_ours / args.cores / 60:.1f} min vs "
              f"{total_theirs / args.cores / 60:.1f} min; fp32 matmul rate 1 thread "
              f"{rate / 1e9:.0f} GFLOP/s -> floor on {args.cores} cores "
              f"{flops / rate / args.cores / 60:.1f} min; load {os.getloadavg()}")
        return
    wall = None
    if args.project:
        print(f"PROJECTION (not a pipeline run): every job's step timed for {args.plain_steps} "
              f"steps, compile {not args.eager}", flush=True)
        wall, job_seconds = project(section, args.cores, args.plain_steps, not args.eager)
        print(f"projected training wall time on {args.cores} cores: {wall:.0f} s "
              f"({wall / 60:.1f} min); job-seconds {job_seconds:.0f}", flush=True)
    elif not args.skip_run:
        env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
        cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
               str(workdir), "--cores", str(args.cores), *TARGETS, "--config",
               f"preset={args.preset}", *extra]
        print("running:", " ".join(cmd), flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-5000:])
            raise SystemExit(f"snakemake failed (rc {proc.returncode})")
        print(f"pipeline wall time, --cores {args.cores}: {wall:.0f} s ({wall / 60:.1f} min); "
              f"load average after: {os.getloadavg()}", flush=True)

    timings = []
    for path in sorted(glob.glob(str(workdir / "results/timing/double_descent/*.tsv"))):
        t = pd.read_csv(path, sep="\t")
        timings.append((Path(path).stem, float(t["s"].iloc[-1])))
    train_s = sum(s for name, s in timings if name.startswith(("mlp_", "cnn_")))
    print(f"training jobs: {sum(1 for n, _ in timings if n.startswith(('mlp_', 'cnn_')))}, "
          f"their summed wall time (job-seconds) {train_s:.0f} s")
    for name, s in timings:
        print(f"  {name:28s} {s:8.1f} s")

    # the plain per-run loop, extrapolated to the protocol
    n_train, per_epoch = 4000, -(-4000 // section["batch_size"])
    steps = section["epochs"] * per_epoch
    plain_total, rows = 0.0, []
    for arch in dd.ARCHS:
        sub = section.get(arch)
        if not sub:
            continue
        sizes = sub["sizes"]
        timed = sizes[::args.plain_every]
        if sizes[-1] not in timed:
            timed = timed + [sizes[-1]]
        for loss in sub["losses"]:
            measured = {s: plain_step_time(arch, s, loss, args.plain_steps, args.cores) for s in timed}
            # sizes not timed: interpolate in size (step time grows smoothly with size)
            per_step = np.interp(sizes, timed, [measured[s] for s in timed])
            runs = len(sub["noise"]) * len(section["seeds"])
            total = runs * steps * per_step.sum()
            plain_total += total
            rows.append((arch, loss, runs * len(sizes), total))
            print(f"plain loop {arch} {loss}: {runs * len(sizes)} runs, ms/step from "
                  f"{1e3 * min(measured.values()):.2f} to {1e3 * max(measured.values()):.2f}; "
                  f"{total / 60:.1f} min for {steps} steps each", flush=True)
    print(f"plain per-run loop, whole experiment (extrapolated): {plain_total:.0f} s "
          f"({plain_total / 3600:.2f} h)")

    rate = matmul_rate(args.cores)
    flops = experiment_flops(section)
    floor = flops / rate
    print(f"dense fp32 matmul rate on {args.cores} threads: {rate / 1e9:.0f} GFLOP/s; experiment "
          f"{flops / 1e12:.1f} TFLOP (unpadded) -> floor {floor:.0f} s ({floor / 60:.1f} min)")
    if wall is not None:
        what = "projected training" if args.project else "pipeline"
        print(f"RESULT {what} {wall:.0f} s = {wall / 60:.1f} min (target <= 30 min); "
              f"plain loop / pipeline = {plain_total / wall:.1f}x; pipeline / floor = "
              f"{wall / floor:.1f}x")
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
