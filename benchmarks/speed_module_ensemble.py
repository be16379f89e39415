"""A user's module (examples/resnet1d.py): the generic ensemble of K seeds vs K plain loops.

    PYTHONPATH=. python benchmarks/speed_module_ensemble.py [--K 8] [--threads 2] [--device cpu]
        [--run-steps 1000] [--class examples.resnet1d:ResNet1D] [--kwargs '{"channels": 24}']

Per step, in one process and interleaved block by block (absolute times drift on shared
machines; the ratios are what counts): K plain loops (K nn.Module copies, each with its own
torch.optim.Adam, stepped one after the other on the same in-order batch of 100: the baseline),
and one step of the engine for the K seeds as one ensemble through the generic path
(torch.func.functional_call under vmap, gradient and Adam update in place), eager and compiled.
Then a short run of --run-steps steps with the paper's evaluations (every 250 steps): K runs
of train.train_plain against one train.train of the K seeds (eager, compiled). Prints medians,
the speed-up over the K plain loops, and the compilation time.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from plain import time_interleaved

from mnist1d import models, specs, train
from mnist1d.data import get_dataset, get_dataset_args


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_loops(spec, K, x, y, device):
    """K modules, each with its own Adam, all stepped on one batch: run(start, n)."""
    nets, opts = [], []
    for seed in range(K):
        torch.manual_seed(seed)
        nets.append(models.build(spec).to(device))
        opts.append(torch.optim.Adam(nets[-1].parameters(), lr=1e-2))

    def run(start, n):
        for s in range(start, start + n):
            i = (s * 100) % len(x)
            xb, yb = x[i:i + 100], y[i:i + 100]
            for net, opt in zip(nets, opts):
                loss = F.cross_entropy(net(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
        sync(device)
    return run, 0.0


def ensemble(spec, K, x, y, device, compile):
    protocol = specs.protocol_of({})
    params = models.init_params(spec, range(K), device=device)
    state = train.init_state(params, protocol)
    step = train.make_step(spec, protocol, compile=compile)
    t0 = time.perf_counter()
    step(params, state, x[:100], y[:100])
    sync(device)
    compile_s = time.perf_counter() - t0

    def run(start, n):
        for s in range(start, start + n):
            i = (s * 100) % len(x)
            step(params, state, x[i:i + 100], y[i:i + 100])
        sync(device)
    return run, compile_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--class", dest="cls", default="examples.resnet1d:ResNet1D")
    parser.add_argument("--kwargs", default='{"channels": 24, "blocks": 3}')
    parser.add_argument("--K", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per block and variant")
    parser.add_argument("--run-steps", type=int, default=1000,
                        help="steps of the short end-to-end run (0: skip it)")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled ensemble")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    spec = specs.module_spec(args.cls, json.loads(args.kwargs), label="module")
    ok, why = models.ensemble_support(spec)
    if not ok:
        raise SystemExit(f"{args.cls}: the generic ensemble path cannot batch it ({why})")
    raw = get_dataset(get_dataset_args(), path="/tmp/mnist1d_data.pkl", verbose=False)
    data = train.as_tensors(raw, device, torch.float32)
    x, y = data["x"], data["y"]
    print(f"torch {torch.__version__}, {device}, {args.threads} threads, {args.cls} "
          f"{args.kwargs} ({models.count_parameters(spec):,} parameters), K = {args.K}")

    runners = {f"{args.K} plain loops": plain_loops(spec, args.K, x, y, device),
               f"ensemble {args.K}, eager": ensemble(spec, args.K, x, y, device, False)}
    if not args.no_compile:
        runners[f"ensemble {args.K}, compiled"] = ensemble(spec, args.K, x, y, device, True)
    times = time_interleaved({label: run for label, (run, _) in runners.items()},
                             args.blocks, args.seconds)
    base = statistics.median(times[f"{args.K} plain loops"])
    print(f"\nper step (all {args.K} seeds), median of {args.blocks} blocks")
    print(f"{'variant':24s} {'ms/step':>8s} {'speed-up':>9s}  compile")
    for label, (_, compile_s) in runners.items():
        ms = statistics.median(times[label])
        extra = f"{compile_s:.1f} s" if "compiled" in label else ""
        print(f"{label:24s} {ms:8.2f} {base / ms:8.2f}x  {extra}", flush=True)

    if args.run_steps:
        protocol = {"steps": args.run_steps, "eval_every": 250}
        print(f"\nshort run: {args.run_steps} steps, evaluation every 250, {args.K} seeds")
        t0 = time.perf_counter()
        for seed in range(args.K):
            train.train_plain(raw, spec, protocol, seed=seed, device=device)
        sync(device)
        plain_s = time.perf_counter() - t0
        print(f"{'K x train_plain':24s} {plain_s:8.1f} s", flush=True)
        for compile in ([False] if args.no_compile else [False, True]):
            t0 = time.perf_counter()
            history, _ = train.train(raw, spec, protocol, range(args.K), device=device,
                                     compile=compile)
            sync(device)
            s = time.perf_counter() - t0
            acc = history[history.step == history.step.max()].test_acc.mean()
            print(f"{'train, ' + ('compiled' if compile else 'eager'):24s} {s:8.1f} s "
                  f"{plain_s / s:8.2f}x  ({'incl. compilation; ' if compile else ''}"
                  f"final test acc {acc:.1f}%)",
                  flush=True)


if __name__ == "__main__":
    main()
