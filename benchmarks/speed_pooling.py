"""The pooling experiment (paper Fig. "pooling"): stacked (dataset, seed) ensembles vs the plain loop.

    PYTHONPATH=. python benchmarks/speed_pooling.py [--seeds 1] [--threads 1] [--blocks 3]
    PYTHONPATH=. python benchmarks/speed_pooling.py --full [--seeds 1] [--compile 1]

Default: for each pooling variant, in one process and interleaved block by block (absolute times
drift on shared machines; ratios are what counts), ms per training step of the plain loop of one
run (nn.Module, torch.optim.Adam, batch of 100 in order) and of the engine's step for the
ensemble of 6 dataset sizes x S seeds (eager and compiled), and the time of one evaluation of all
six datasets. From these it prints the projected time of the whole experiment (5 variants,
6 000 steps, evaluation every 100): plain per-run loop vs the stacked ensembles.
--full runs the whole experiment at the paper protocol instead (config.yaml's, each variant's job
through mnist1d.experiments.pooling.train_job, the job function the pipeline runs, with --seeds,
--compile and --train-eval-every) and prints its wall time and the numbers against the paper's findings.
Datasets come from results/data/pool*.npz (make them with snakemake) or are generated.
"""
import argparse
import statistics
import time
from pathlib import Path

import torch

from plain import adam_in_order_stepper
from speed_under_load import preset_config

from mnist1d import models, specs, train
from mnist1d.experiments import pooling
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.store import load_dataset

DATASETS = {"pool2k": 2000, "pool3k": 3000, "pool6k": 6000, "pool11k": 11000, "pool21k": 21000,
            "pool51k": 51000}
SPLITS = {"pool2k": 0.5, "pool3k": 0.66667, "pool6k": 0.83334, "pool11k": 0.909091,
          "pool21k": 0.952381, "pool51k": 0.980393}


def datasets(results):
    out = {}
    for name, n in DATASETS.items():
        path = Path(results) / "data" / f"{name}.npz"
        if path.exists():
            out[name] = load_dataset(path)
        else:
            args = get_dataset_args()
            args.num_samples, args.train_split = n, SPLITS[name]
            out[name] = make_dataset(args)
    return out


def ensemble_stepper(K, spec, compile):
    protocol = specs.protocol_of({})
    params = models.init_params(spec, range(K))
    state = train.init_state(params, protocol)
    step = train.make_step(spec, protocol, compile=compile)
    x, y = torch.randn(K, 100, 40), torch.randint(0, 10, (K, 100))
    t0 = time.perf_counter()
    step(params, state, x, y)
    compile_s = time.perf_counter() - t0

    def run(start, n):
        for _ in range(n):
            step(params, state, x, y)
    return run, compile_s, params


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100, help="steps per timed block")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--compile", type=int, default=1)
    parser.add_argument("--train-eval-every", type=int, default=1000)
    parser.add_argument("--results", default="results")
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    data = datasets(a.results)
    seeds = list(range(a.seeds))
    print(f"torch {torch.__version__}, {a.threads} thread(s), seeds {seeds}")
    if a.full:
        config = preset_config("paper")
        histories, t0 = [], time.perf_counter()
        for variant in pooling.VARIANTS:
            p = pooling.protocol_from_config(config, variant) | {
                "seeds": seeds, "compile": bool(a.compile), "train_eval_every": a.train_eval_every}
            t = time.perf_counter()
            histories.append(pooling.train_job(p, data)["history"])
            print(f"{variant:8s} {time.perf_counter() - t:7.1f} s", flush=True)
        total = time.perf_counter() - t0
        summary = pooling.summarise(__import__("pandas").concat(histories))
        print(summary[["variant", "train_size", "test_acc_mean", "test_acc_std"]]
              .to_string(index=False))
        for line in pooling.check_targets(summary):
            print(line)
        print(f"whole experiment ({len(seeds)} seed(s), compile {bool(a.compile)}): {total:.1f} s "
              f"= {total / 60:.1f} min (target: one seed in at most 8 min)")
        return
    K = len(DATASETS) * a.seeds
    steps_total = 6001
    proj_plain = proj_eager = proj_comp = eval_total = 0.0
    for variant in pooling.VARIANTS:
        spec = pooling.spec_of(variant)
        plain = adam_in_order_stepper(spec, data["pool2k"]["x"], data["pool2k"]["y"])
        eager, _, params = ensemble_stepper(K, spec, False)
        comp, compile_s, _ = ensemble_stepper(K, spec, True)
        times = {"plain": [], "eager": [], "compiled": []}
        for b in range(a.blocks + 1):
            for name, fn in (("plain", plain), ("eager", eager), ("compiled", comp)):
                t = time.perf_counter()
                fn(b * a.steps, a.steps)
                if b:  # the first block warms up
                    times[name].append((time.perf_counter() - t) / a.steps * 1e3)
        med = {k: statistics.median(v) for k, v in times.items()}
        eval_s = {"x": 0.0, "x_test": 0.0}   # one evaluation of all six datasets
        for d, name in enumerate(DATASETS):
            sub = {k: p[d * a.seeds:(d + 1) * a.seeds] for k, p in params.items()}
            tt = train.as_tensors(data[name], "cpu", torch.float32)
            for split in eval_s:
                t = time.perf_counter()
                train.evaluate(spec, sub, tt[split], tt["y" + split[1:]])
                eval_s[split] += time.perf_counter() - t
        print(f"{variant:8s} plain {med['plain']:.2f} ms/step; ensemble of {K}: eager "
              f"{med['eager']:.2f} ({med['eager'] / med['plain']:.1f}x one plain step), compiled "
              f"{med['compiled']:.2f} ({med['compiled'] / med['plain']:.1f}x; compile "
              f"{compile_s:.0f} s); one evaluation of all sizes: test sets "
              f"{eval_s['x_test']:.2f} s, training sets {eval_s['x']:.2f} s", flush=True)
        evals = (steps_total - 1) // 100 + 1
        evals_s = evals * eval_s["x_test"] + ((steps_total - 1) // a.train_eval_every + 1) * eval_s["x"]
        eval_total += evals_s
        proj_plain += K * steps_total * med["plain"] / 1e3 + evals_s
        proj_eager += steps_total * med["eager"] / 1e3 + evals_s
        proj_comp += steps_total * med["compiled"] / 1e3 + evals_s + compile_s
    print(f"projected whole experiment ({a.seeds} seed(s)): plain per-run loop {proj_plain / 60:.1f}"
          f" min, stacked eager {proj_eager / 60:.1f} min, stacked compiled {proj_comp / 60:.1f} min (each including "
          f"{eval_total / 60:.1f} min of evaluation: test sets every 100 steps, training sets every "
          f"{a.train_eval_every}); serial, {a.threads} thread(s)")


if __name__ == "__main__":
    main()
