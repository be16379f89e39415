"""The whole double-descent experiment through the pipeline vs a plain per-run loop and vs the
floating-point floor.

    PYTHONPATH=. python benchmarks/bench_double_descent.py [--cores 2] [--preset paper]
        [--workdir DIR] [--skip-run] [--plain-steps 30] [--plain-every 1]

1. Runs `snakemake --cores N` for the double-descent targets (figures, table, thresholds) in
   `--workdir` with the chosen preset (default: the paper protocol, config.yaml's seeds) and
   times it (wall clock); `--skip-run` only reads an existing run's per-job timings.
2. Measures the plain per-run loop (nn.Module, torch.optim.SGD with momentum, per-epoch
   reshuffling, batch 100: mnist1d.train.train_plain's loop) for every model of the experiment
   (every `--plain-every`-th size), `--plain-steps` steps each, on N threads, and extrapolates to
   the protocol's steps: the time a loop over the runs would take.
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

from mnist1d import config as config_lib
from mnist1d import double_descent as dd
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
    """Seconds per step of the plain loop of one model (after a few warm-up steps)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = torch.randn(n_train, 40), torch.randint(0, 10, (n_train,))
    net = models.build(dd.model_spec(arch, size))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(n_train, generator=generator)

    def step(s):
        nonlocal order
        start = (s * batch) % n_train
        if start < batch:
            order = torch.randperm(n_train, generator=generator)
        idx = order[start:start + batch]
        out = net(x[idx])
        if loss == "mse":
            value = F.mse_loss(out, F.one_hot(y[idx], 10).float())
        else:
            value = F.cross_entropy(out, y[idx])
        opt.zero_grad()
        value.backward()
        opt.step()

    for s in range(3):
        step(s)
    t0 = time.perf_counter()
    for s in range(steps):
        step(s)
    return (time.perf_counter() - t0) / steps


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

    wall = None
    if not args.skip_run:
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
        print(f"RESULT pipeline {wall:.0f} s = {wall / 60:.1f} min (target <= 30 min); "
              f"plain loop / pipeline = {plain_total / wall:.1f}x; pipeline / floor = "
              f"{wall / floor:.1f}x")
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
