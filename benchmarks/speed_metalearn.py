"""Speed of the metalearning experiments; prints figures, asserts nothing.

    PYTHONPATH=. python benchmarks/speed_metalearn.py [--reps 3] [--threads 1] [--data PATH]

1. The learning-rate experiment at the paper protocol (config.yaml's: two trials of 50 x 200
   steps, through mnist1d.experiments.metalearn_lr.train_job, the job function the pipeline
   runs): seconds (--skip-lr leaves it out).
2. The activation experiment: one outer step (301 unrolled inner steps and the meta-gradient)
   per version, in interleaved rounds (every version once per round, so load drift hits all
   alike); ms per inner step (median), without and with the per-step test accuracy on 500 test
   examples. Versions (implementation:test evaluation): plain (autograd double backward), fused
   (hand-written inner gradients, the activation's backward fused by hand), compiled (each inner
   step and each step's test accuracy one torch.compile graph); test accuracy exact (f evaluated
   as written), table (f tabulated once per outer step) or none.
   Compiled versions are warmed up (compiled) first; the compile time is printed.
3. The whole experiment projected per version: 301 outer steps at the measured ms per inner
   step, plus the 7 evaluation runs (learned + 6 baselines, no meta-gradient) timed once each,
   plus the compile time for compiled versions (a first run; later runs hit inductor's cache).
4. The meta-gradient of each version against plain, relative error, float32, one outer step.

The job runs with the thread count of config.yaml `jobs.topics.metalearn.threads`; compare
--threads 1 and 2 in separate runs (compiled kernels fix their thread count when compiled).
"""
import argparse
import statistics
import time

import torch

from speed_under_load import preset_config

from mnist1d.experiments import metalearn_afunc as afunc
from mnist1d.experiments.metalearn_common import keep_freed_memory, to_tensors
from mnist1d.experiments import metalearn_lr
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.store import load_dataset
from mnist1d.utils import ObjectView


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", default=None, help="samples10k .npz (else generated)")
    parser.add_argument("--default-data", default=None, help="default .npz (else generated)")
    parser.add_argument("--skip-lr", action="store_true")
    parser.add_argument("--malloc-default", action="store_true",
                        help="leave glibc's malloc settings alone (the pipeline changes them)")
    parser.add_argument("--versions", default="plain:exact,fused:none,fused:table,"
                        "compiled:none,compiled:table", help="implementation:test_eval, ...")
    parser.add_argument("--skip-eval", action="store_true",
                        help="do not time the 7 evaluation runs (projection without them)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kept = False if args.malloc_default else keep_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"freed memory kept: {kept}")

    if not args.skip_lr:
        data = (load_dataset(args.default_data) if args.default_data
                else make_dataset(ObjectView(get_dataset_args(as_dict=True))))
        p = metalearn_lr.protocol_from_config(preset_config("paper"))
        t0 = time.perf_counter()
        trials = metalearn_lr.train_job(p, {"dataset": data})["trials"]
        final = trials.groupby("start_lr", sort=False)["lr_next"].last()
        print(f"learning-rate experiment ({len(p['start_lrs'])} trials x {p['outer_steps']} outer "
              f"x {p['inner_steps']} inner): {time.perf_counter() - t0:.1f} s; final learning "
              f"rates " + ", ".join(f"{v:.4f}" for v in final))

    data = (load_dataset(args.data) if args.data else
            make_dataset(ObjectView(get_dataset_args(as_dict=True) | {"num_samples": 10000})))
    data_t = to_tensors(data, "cpu", torch.float32)
    cfg0 = afunc.AfuncConfig()
    act = afunc.init_act_params(cfg0)
    versions = [(v.split(":")[0], None if v.split(":")[1] == "none" else v.split(":")[1])
                for v in args.versions.split(",")]

    def config(impl, test):
        return afunc.AfuncConfig(implementation=impl, test_eval=test or "table")

    compile_s = {}
    for impl, test in versions:
        if impl == "compiled":
            t0 = time.perf_counter()
            afunc.afunc_outer_step(act, data_t, config(impl, test), 10_000, "cpu", torch.float32,
                                   with_test=test is not None)
            compile_s[(impl, test)] = time.perf_counter() - t0
            print(f"compiled:{test or 'none'} first outer step (compiling, cold or cached): "
                  f"{compile_s[(impl, test)]:.1f} s", flush=True)

    times = {v: [] for v in versions}
    cpu_times = {v: [] for v in versions}
    grads = {}
    for rep in range(args.reps):
        for impl, test in versions:
            cfg = config(impl, test)
            t0, c0 = time.perf_counter(), time.process_time()
            _, _, g, _ = afunc.afunc_outer_step(act, data_t, cfg, rep, "cpu", torch.float32,
                                                with_test=test is not None)
            times[(impl, test)].append((time.perf_counter() - t0) / cfg.inner_steps * 1e3)
            cpu_times[(impl, test)].append((time.process_time() - c0) / cfg.inner_steps * 1e3)
            if rep == 0:
                grads[impl] = torch.cat([x.flatten() for x in g]).double()
        print(f"round {rep + 1}/{args.reps}: " + ", ".join(
            f"{i}:{t or 'none'} {ts[-1]:.2f}" for (i, t), ts in times.items()) + " ms/step",
            flush=True)

    # the evaluation runs (the learned function and each baseline; no meta-gradient)
    eval_s = {}
    if not args.skip_eval:
        for impl in dict.fromkeys(i for i, _ in versions):
            cfg = config(impl, "table")
            t0 = time.perf_counter()
            for name in ("learned", *afunc.BASELINES):
                afunc.evaluate_activation(name, act, data_t, cfg, "cpu", torch.float32)
            eval_s[impl] = time.perf_counter() - t0

    base = statistics.median(times[versions[0]])
    print(f"\nactivation experiment, one outer step of {cfg0.inner_steps} inner steps "
          f"(median of {args.reps} interleaved rounds, {torch.get_num_threads()} thread(s)):")
    cpu_base = statistics.median(cpu_times[versions[0]])
    print(f"{'version':<10}{'test':<7}{'ms/inner step':>14}{'speed-up':>9}{'CPU ms':>8}"
          f"{'speed-up':>9}{'eval runs':>10}{'compile':>8}{'whole experiment':>18}")
    for (impl, test), ts in times.items():
        ms = statistics.median(ts)
        cpu_ms = statistics.median(cpu_times[(impl, test)])
        ev = eval_s.get(impl, 0.0)
        comp = compile_s.get((impl, test), 0.0)
        total = ms * cfg0.inner_steps * cfg0.outer_steps / 1e3 + ev + comp
        print(f"{impl:<10}{test or 'none':<7}{ms:>14.2f}{base / ms:>8.2f}x{cpu_ms:>8.2f}"
              f"{cpu_base / cpu_ms:>8.2f}x{ev:>9.1f}s{comp:>7.1f}s{total / 60:>14.1f} min")
    print("(ms/inner step: wall clock; CPU ms: this process's CPU time, less sensitive to other "
          "processes on a loaded machine. Whole experiment: 301 x 301 inner steps at the wall "
          "median, the 7 evaluation runs, the compile: a first call in this process, cold or "
          "from inductor's cache)")
    print("\nmeta-gradient vs plain, float32, one outer step of 301 inner steps, relative error")
    print("(float32 runs drift apart chaotically over 301 steps, plain included: about 4e-3 to "
          "1e-2 from float64 there; tests/test_metalearn.py checks equality on 8 steps):")
    for impl in [i for i in grads if i != "plain" and "plain" in grads]:
        err = ((grads[impl] - grads["plain"]).norm() / grads["plain"].norm()).item()
        print(f"  {impl}: {err:.2e}")


if __name__ == "__main__":
    main()
