"""Seed ensembles vs the plain per-seed PyTorch loop, ms per training step (paper protocol).

    PYTHONPATH=. python benchmarks/speed_engine.py [--models mlp,cnn,gru] [--K 8] [--threads 2]

For each model, in one process and interleaved block by block (absolute times drift on shared
machines; the ratios are what counts): the plain loop of one seed (nn.Module, torch.optim.Adam,
batch of 100 in order: the baseline), and the engine's step for an ensemble of K seeds, eager and
compiled (whole step under torch.compile). Prints medians and the ratio to one plain step; the
target is an ensemble of 8 in at most 2x one plain step. Compilation time is printed separately.
"""
import argparse
import statistics
import time

import torch

from plain import adam_in_order_stepper, time_interleaved

from mnist1d import models, specs, train
from mnist1d.data import get_dataset, get_dataset_args


def ensemble_stepper(data, name, K, compile):
    spec, protocol = specs.spec_of(name), specs.protocol_of({})
    params = models.init_params(spec, range(K))
    state = train.init_state(params, protocol)
    step = train.make_step(spec, protocol, compile=compile)
    x, y = data["x"], data["y"]
    t0 = time.perf_counter()
    step(params, state, x[:100], y[:100])
    compile_s = time.perf_counter() - t0

    def run(start, n):
        for s in range(start, start + n):
            i = (s * 100) % len(x)
            step(params, state, x[i:i + 100], y[i:i + 100])
    return run, compile_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="mlp,cnn,gru")
    parser.add_argument("--K", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.6, help="time per block and variant")
    parser.add_argument("--no-eager", action="store_true", help="skip the eager ensemble")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled ensemble")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = train.as_tensors(get_dataset(get_dataset_args(), path="/tmp/mnist1d_data.pkl",
                                        verbose=False), "cpu", torch.float32)
    print(f"torch {torch.__version__}, {args.threads} threads, ensemble K = {args.K}")
    print(f"{'model':6s} {'variant':22s} {'ms/step':>8s} {'x plain':>8s} {'ms/seed':>8s}  compile")
    for name in args.models.split(","):
        runners = {"plain loop, 1 seed": (adam_in_order_stepper(name, data["x"], data["y"]), 0.0)}
        if not args.no_eager:
            runners[f"ensemble {args.K}, eager"] = ensemble_stepper(data, name, args.K, False)
        if not args.no_compile:
            runners[f"ensemble {args.K}, compiled"] = ensemble_stepper(data, name, args.K, True)
        times = time_interleaved({label: run for label, (run, _) in runners.items()},
                                 args.blocks, args.seconds)
        base = statistics.median(times["plain loop, 1 seed"])
        for label, (_, compile_s) in runners.items():
            ms = statistics.median(times[label])
            k = 1 if label.startswith("plain") else args.K
            extra = f"{compile_s:.1f} s" if "compiled" in label else ""
            print(f"{name:6s} {label:22s} {ms:8.2f} {ms / base:8.2f} {ms / k:8.3f}  {extra}",
                  flush=True)


if __name__ == "__main__":
    main()
