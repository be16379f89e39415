"""A benchmark job against a plain PyTorch loop of the same protocol, start-up included.

    PYTHONPATH=. python benchmarks/speed_job_vs_plain.py [--models mlp,cnn] [--seeds 1,3]
        [--repeat 2] [--preset paper]

Each run is a fresh one-thread Python process, timed from outside, so the interpreter's start,
the imports and the dataset's loading count, as they do for a pipeline job:
- the job: what workflow/scripts/benchmark_train.py runs (set_threads, job_device on the CPU,
  mnist1d.experiments.benchmark.train_job) for K seeds as one ensemble, with the preset's protocol
  (benchmark.protocol_from_config on the normal data);
- the plain loop: mnist1d.train.train_plain (nn.Module, torch.optim.Adam, the same batches and
  evaluations) once per seed, one after the other, in one process.
Prints the seconds of each (the fastest of --repeat) and the plain loop's seconds per seed over the
job's: above 1 the job is faster. The goal: at least 1 with one seed, at least 3 with three.
Also the arithmetic of a seed (torch's FLOP counter on the plain module: every step's forward and
backward, every evaluation's forward) and the rate each run reached, start-up included: three
seeds at 3x per seed need the job to run three seeds' arithmetic in the time the plain loop runs
one, i.e. at three times the plain loop's rate.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from speed_under_load import preset_config

REPO = Path(__file__).resolve().parent.parent

JOB = """
import json, sys
from mnist1d.pipeline import device
device.set_threads(1)
from mnist1d.experiments import benchmark
from mnist1d.store import load_dataset
protocol = json.loads(sys.argv[2])
with device.job_device("cpu", None) as where:
    benchmark.train_job(protocol, {"dataset": load_dataset(sys.argv[1])}, device=where)
"""

PLAIN = """
import json, sys
import torch
torch.set_num_threads(1)
from mnist1d import train
from mnist1d.store import load_dataset
protocol = json.loads(sys.argv[2])
data = load_dataset(sys.argv[1])
for seed in protocol["seeds"]:
    train.train_plain(data, protocol["spec"], protocol["engine"], seed=seed)
"""


def timed(code, dataset, protocol):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(dataset), json.dumps(protocol)], env=env,
                   check=True, cwd=REPO)
    return time.perf_counter() - t0


def gflop_per_seed(protocol, n_train, n_test):
    """Floating-point operations of one seed's training (GFLOP): forward and backward of every
    step's batch, the forward of every evaluation of the training and test sets."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from mnist1d import models, specs

    engine = specs.protocol_of(protocol["engine"])
    net = models.build(specs.spec_of(protocol["spec"]))
    x, y = torch.randn(engine["batch_size"], 40), torch.randint(0, 10, (engine["batch_size"],))
    with FlopCounterMode(display=False) as step:
        torch.nn.functional.cross_entropy(net(x), y).backward()
    with FlopCounterMode(display=False) as evaluation, torch.no_grad():
        net(torch.randn(n_train + n_test, 40))
    steps = engine["steps"] + 1
    evaluations = len([t for t in range(steps)
                       if t % engine["eval_every"] == 0 or t == engine["steps"]])
    return (steps * step.get_total_flops() + evaluations * evaluation.get_total_flops()) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--seeds", default="1,3", help="ensemble sizes K (seeds 0..K-1)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--preset", default="paper", choices=["paper", "quick", "smoke"])
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat: must be at least 1")
    from mnist1d.data import get_dataset_args, make_dataset
    from mnist1d.experiments import benchmark
    from mnist1d.store import save_dataset

    config = preset_config(args.preset)
    with tempfile.TemporaryDirectory(prefix="speed_job_vs_plain_") as tmp:
        dataset = Path(tmp) / "default.npz"
        data = make_dataset(get_dataset_args())
        save_dataset(data, get_dataset_args(as_dict=True), dataset)
        print(f"preset {args.preset}, one thread, the fastest of {args.repeat} runs, start-up "
              f"included")
        print(f"{'model':6s} {'K':>2s} {'job s':>7s} {'plain s':>8s} {'plain/job per seed':>19s} "
              f"{'GFLOP/seed':>10s} {'job GFLOP/s':>11s} {'plain GFLOP/s':>13s}")
        for model in args.models.split(","):
            for k in (int(v) for v in args.seeds.split(",")):
                protocol = benchmark.protocol_from_config(config, model, "normal")
                protocol = dict(protocol, seeds=list(range(k)), compile=False)
                job = min(timed(JOB, dataset, protocol) for _ in range(args.repeat))
                plain = min(timed(PLAIN, dataset, protocol) for _ in range(args.repeat))
                gflop = gflop_per_seed(protocol, len(data["x"]), len(data["x_test"]))
                print(f"{model:6s} {k:2d} {job:7.1f} {plain:8.1f} {plain / job:19.2f} "
                      f"{gflop:10.1f} {k * gflop / job:11.1f} {k * gflop / plain:13.1f}", flush=True)


if __name__ == "__main__":
    main()
