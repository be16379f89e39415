"""Lottery tickets: the batched search and analysis vs plain per-run loops, and the FLOP floor.

    PYTHONPATH=. python benchmarks/speed_lottery.py [--threads 2] [--compile] [--blocks 5]

In one process, interleaved block by block (absolute times drift on shared machines), it times
one training step and one evaluation of:
  * search, plain loop: one masked MLP 40-500-500-10 (nn.Module, torch.optim.Adam, parameters
    times masks in every forward), batch 100;
  * search, batched: the engine step of the K = trials x methods = 4 searches as one ensemble;
  * analysis, plain loop: one masked network, batch 500;
  * analysis, batched: the 15 networks of one analysed trial as ensembles of K = 15, 5 or 1
    (the pipeline uses `lottery.ANALYSIS_GROUP`), per-member inputs;
and extrapolates the paper protocol (search: 2 trials x 2 methods x 100 rounds x 1 501 steps,
evaluation every 100 steps on 4 000 + 1 000 examples; analysis: 15 networks x 6 001 steps of
batch 500, evaluation every 100). The floor is the protocol's floating-point operations (matrix
products, forward 2 and backward 4 FLOP per weight and example, no input gradient in the first
layer) at 120 GFLOP/s (the rate measured on the 2-core development machine, benchmarks/README.md) and at the rate of a dense fp32 product of the same shape
measured in this run.
"""
import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from mnist1d.experiments import lottery
from mnist1d import models, specs, train
from mnist1d.data import get_dataset, get_dataset_args

HIDDEN, RATE_NOTES = 500, 120e9
GROUP = {"analysis batched (K 15, B 500)": 15, "analysis batched compiled": 15,
         "analysis batched (K 5, B 500)": 5, "analysis K 5 compiled": 5,
         "analysis engine (K 1, B 500)": 1, "analysis K 1 compiled": 1}


def weights(hidden=HIDDEN):
    return 40 * hidden + hidden * hidden + hidden * 10


def train_flop(batch, hidden=HIDDEN):
    return 6 * batch * weights(hidden) - 2 * batch * 40 * hidden


def eval_flop(n, hidden=HIDDEN):
    return 2 * n * weights(hidden)


def random_masks(params, sparsity, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {n: (torch.rand(p.shape, generator=g) >= sparsity).float() for n, p in params.items()}


def plain_stepper(data, batch, sparsity):
    torch.manual_seed(42)
    net = models.build(lottery.spec_of(HIDDEN))
    masks = random_masks(dict(net.named_parameters()), sparsity)
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    x, y = data["x"], data["y"]

    def logits(inp):
        return torch.func.functional_call(net, {n: p * masks[n] for n, p in net.named_parameters()},
                                          (inp,))

    def run(start, n):
        for s in range(start, start + n):
            i = (s * batch) % len(x)
            loss = F.cross_entropy(logits(x[i:i + batch]), y[i:i + batch])
            opt.zero_grad()
            loss.backward()
            opt.step()

    @torch.no_grad()
    def evaluate():
        for xx, yy in ((data["x"], data["y"]), (data["x_test"], data["y_test"])):
            out = logits(xx)
            F.cross_entropy(out, yy).item(), (out.argmax(-1) == yy).float().mean().item()
    return run, evaluate


def batched_stepper(data, K, batch, sparsity, compile, per_member_inputs=False):
    spec = lottery.spec_of(HIDDEN)
    protocol = specs.protocol_of({"lr": 0.02, "batch_size": batch})
    params = models.init_params(spec, range(K))
    masks = random_masks(params, sparsity)
    state = train.init_state(params, protocol)
    step = train.make_step(spec, protocol, masks, compile)
    x, xt = data["x"], data["x_test"]
    if per_member_inputs:
        x, xt = x.expand(K, *x.shape).contiguous(), xt.expand(K, *xt.shape).contiguous()
    batches = train.Batches(x, data["y"], protocol, range(K))
    t0 = time.perf_counter()
    step(params, state, *batches(0))
    compile_s = time.perf_counter() - t0

    def run(start, n):
        for s in range(start, start + n):
            step(params, state, *batches(s))

    def evaluate():
        a = train.evaluate(spec, params, x, data["y"], masks)
        b = train.evaluate(spec, params, xt, data["y_test"], masks)
        torch.stack([*a, *b]).cpu()
    return run, evaluate, compile_s


def dense_rate(batch=500, seconds=0.5):
    """GFLOP/s of a dense fp32 (batch, 500) x (500, 500) product, now, on this machine."""
    a, b = torch.randn(batch, HIDDEN), torch.randn(HIDDEN, HIDDEN)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    return 2 * batch * HIDDEN * HIDDEN * n / (time.perf_counter() - t0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per block and variant")
    parser.add_argument("--compile", action="store_true", help="also the compiled batched steps")
    parser.add_argument("--sparsity", type=float, default=0.5, help="of the random masks timed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    raw = get_dataset(get_dataset_args(), path="/tmp/mnist1d_data.pkl", verbose=False)
    data = train.as_tensors(raw, "cpu", torch.float32)
    print(f"torch {torch.__version__}, {args.threads} threads, hidden {HIDDEN}")

    runners = {
        "search plain (1 net, B 100)": plain_stepper(data, 100, args.sparsity) + (0.0,),
        "search batched (K 4, B 100)": batched_stepper(data, 4, 100, args.sparsity, False),
        "analysis plain (1 net, B 500)": plain_stepper(data, 500, args.sparsity) + (0.0,),
        "analysis batched (K 15, B 500)": batched_stepper(data, 15, 500, args.sparsity, False, True),
        "analysis batched (K 5, B 500)": batched_stepper(data, 5, 500, args.sparsity, False, True),
        "analysis engine (K 1, B 500)": batched_stepper(data, 1, 500, args.sparsity, False, True),
    }
    if args.compile:
        runners["search batched compiled"] = batched_stepper(data, 4, 100, args.sparsity, True)
        runners["analysis batched compiled"] = batched_stepper(data, 15, 500, args.sparsity, True,
                                                               True)
        runners["analysis K 5 compiled"] = batched_stepper(data, 5, 500, args.sparsity, True, True)
        runners["analysis K 1 compiled"] = batched_stepper(data, 1, 500, args.sparsity, True, True)
    n = {}
    for label, (run, evaluate, _) in runners.items():
        t0 = time.perf_counter()
        run(0, 3)
        evaluate()
        n[label] = max(3, int(args.seconds / ((time.perf_counter() - t0) / 3)))
    step_ms = {label: [] for label in runners}
    eval_ms = {label: [] for label in runners}
    rates = []
    for block in range(args.blocks):
        rates.append(dense_rate())
        for label, (run, evaluate, _) in runners.items():
            t0 = time.perf_counter()
            run(block * n[label], n[label])
            step_ms[label].append((time.perf_counter() - t0) / n[label] * 1e3)
            t0 = time.perf_counter()
            evaluate()
            eval_ms[label].append((time.perf_counter() - t0) * 1e3)
    rate = statistics.median(rates)
    print(f"dense fp32 (500 x 500) x (500 x 500) product now: {rate / 1e9:.1f} GFLOP/s "
          f"(2-core development machine: {RATE_NOTES / 1e9:.0f})\n")
    print(f"{'variant':32s} {'ms/step':>8s} {'ms/eval':>8s}  compile")
    med = {}
    for label, (_, _, compile_s) in runners.items():
        med[label] = statistics.median(step_ms[label]), statistics.median(eval_ms[label])
        extra = f"{compile_s:.1f} s" if "compiled" in label else ""
        print(f"{label:32s} {med[label][0]:8.2f} {med[label][1]:8.1f}  {extra}")

    # the paper protocol, extrapolated from the medians
    search_steps, search_evals = 100 * 1501, 100 * 16      # rounds x (steps 0..1500, evals)
    ana_steps, ana_evals = 6001, 61
    protocols = {
        "search": dict(members=4, steps=search_steps, evals=search_evals, batch=100,
                       plain="search plain (1 net, B 100)", batched=["search batched (K 4, B 100)",
                                                                    "search batched compiled"]),
        "analysis": dict(members=15, steps=ana_steps, evals=ana_evals, batch=500,
                         plain="analysis plain (1 net, B 500)",
                         batched=["analysis batched (K 15, B 500)", "analysis batched compiled",
                                  "analysis batched (K 5, B 500)", "analysis K 5 compiled",
                                  "analysis engine (K 1, B 500)", "analysis K 1 compiled"]),
    }
    print("\npaper protocol, extrapolated (minutes); floor = its FLOPs at 120 GFLOP/s | at the "
          "rate measured now")
    for name, p in protocols.items():
        flop = p["members"] * (p["steps"] * train_flop(p["batch"]) + p["evals"] * eval_flop(5000))
        floor_notes, floor_now = flop / RATE_NOTES, flop / rate
        print(f"{name}: {flop / 1e12:.1f} TFLOP; floor {floor_notes / 60:.1f} min | "
              f"{floor_now / 60:.1f} min")
        plain_ms, plain_eval = med[p["plain"]]
        total = p["members"] * (p["steps"] * plain_ms + p["evals"] * plain_eval) / 1e3
        print(f"  {'plain per-run loop':28s} {total / 60:7.1f} min  x floor {total / floor_notes:5.2f}"
              f" | {total / floor_now:5.2f}")
        for label in p["batched"]:
            if label not in med:
                continue
            ms, ev = med[label]
            K = 4 if name == "search" else GROUP[label]
            total_b = (p["members"] // K) * (p["steps"] * ms + p["evals"] * ev) / 1e3
            print(f"  {label:28s} {total_b / 60:7.1f} min  x floor {total_b / floor_notes:5.2f} | "
                  f"{total_b / floor_now:5.2f}  ({total / total_b:.2f}x faster than plain)")


if __name__ == "__main__":
    main()
