"""Speed of the metalearning experiments (SPEC 5, 6); prints figures, asserts nothing.

    PYTHONPATH=. python benchmarks/bench_metalearn.py [--reps 2] [--threads 1] [--data PATH]

1. The learning-rate experiment at the paper protocol (two trials of 50 x 200 steps): seconds.
2. The activation experiment: one outer step (301 unrolled inner steps and the meta-gradient)
   per version, in interleaved rounds; ms per inner step (median), without and with the
   per-step test accuracy on 500 test examples, and the whole experiment extrapolated
   (301 outer steps + 7 evaluation runs). Versions: plain (autograd double backward), fast
   (hand-written inner gradients), fused (the same, with the activation's backward fused by
   hand); test accuracy exact (f evaluated as written) or table (f tabulated once per outer step).
3. The meta-gradient of each version against plain, relative error, float32, one outer step.
"""
import argparse
import statistics
import time

import torch

from mnist1d import metalearn as ml
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.store import load_dataset
from mnist1d.utils import ObjectView


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", default=None, help="samples10k .npz (else generated)")
    parser.add_argument("--default-data", default=None, help="default .npz (else generated)")
    parser.add_argument("--skip-lr", action="store_true")
    parser.add_argument("--malloc-default", action="store_true",
                        help="leave glibc's malloc settings alone (the pipeline changes them)")
    parser.add_argument("--versions", default="plain:exact,plain:none,fast:none,fused:none,"
                        "fused:exact,fused:table", help="implementation:test_eval, ...")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kept = False if args.malloc_default else ml.keep_freed_memory()
    print(f"torch {torch.__version__}, {args.threads} thread(s), freed memory kept: {kept}")

    if not args.skip_lr:
        data = (load_dataset(args.default_data) if args.default_data
                else make_dataset(ObjectView(get_dataset_args(as_dict=True))))
        t0 = time.perf_counter()
        final = [ml.metalearn_lr(data, lr)[-1]["lr_next"] for lr in (1.5, 0.15)]
        print(f"learning-rate experiment (2 trials x 50 outer x 200 inner): "
              f"{time.perf_counter() - t0:.1f} s; final learning rates "
              + ", ".join(f"{v:.4f}" for v in final))

    data = (load_dataset(args.data) if args.data else
            make_dataset(ObjectView(get_dataset_args(as_dict=True) | {"num_samples": 10000})))
    data_t = ml.to_tensors(data, "cpu", torch.float32)
    cfg0 = ml.AfuncConfig()
    act = ml.init_act_params(cfg0)
    versions = [(v.split(":")[0], None if v.split(":")[1] == "none" else v.split(":")[1])
                for v in args.versions.split(",")]
    times = {v: [] for v in versions}
    grads = {}
    for rep in range(args.reps):
        for impl, test in versions:
            cfg = ml.AfuncConfig(implementation=impl, test_eval=test or "table")
            t0 = time.perf_counter()
            _, _, g, _ = ml.afunc_outer_step(act, data_t, cfg, rep, "cpu", torch.float32,
                                             with_test=test is not None)
            times[(impl, test)].append((time.perf_counter() - t0) / cfg.inner_steps * 1e3)
            if rep == 0:
                grads[impl] = torch.cat([x.flatten() for x in g]).double()
    # one evaluation run (baselines and the learned function: no meta-gradient)
    t0 = time.perf_counter()
    ml.evaluate_activation("relu", act, data_t, cfg0, "cpu", torch.float32)
    eval_s = time.perf_counter() - t0
    base = statistics.median(times[versions[0]])
    print(f"\nactivation experiment, one outer step of {cfg0.inner_steps} inner steps "
          f"(median of {args.reps}):")
    print(f"{'version':<10}{'test accuracy':<15}{'ms/inner step':>14}{'speed-up':>15}"
          f"{'whole experiment':>18}")
    for (impl, test), ts in times.items():
        ms = statistics.median(ts)
        total = ms * cfg0.inner_steps * cfg0.outer_steps / 1e3 + 7 * eval_s
        print(f"{impl:<10}{test or 'none':<15}{ms:>14.2f}{base / ms:>14.2f}x{total / 60:>14.1f} min")
    print(f"(one evaluation run: {eval_s:.2f} s; the experiment makes 7)")
    print("\nmeta-gradient vs plain, float32, one outer step, relative error:")
    for impl in [i for i in grads if i != "plain" and "plain" in grads]:
        err = ((grads[impl] - grads["plain"]).norm() / grads["plain"].norm()).item()
        print(f"  {impl}: {err:.2e}")


if __name__ == "__main__":
    main()
