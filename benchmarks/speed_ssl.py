"""The SSL experiment: stacked seed ensemble vs the plain per-seed loop.

    PYTHONPATH=. python benchmarks/speed_ssl.py [--seeds 3] [--threads 1] [--steps 40]
    PYTHONPATH=. python benchmarks/speed_ssl.py --full [--seeds 3] [--compile 1]

Default: seconds per epoch (40 steps of batch 100) of the plain loop of one seed (nn.Module,
torch.optim.Adam) and of the engine's ensemble of S seeds, eager and compiled, measured in one
process one after the other (absolute times drift on shared machines; compare the ratios), and
the projected time of 200 epochs. --full runs the whole experiment at the paper protocol
(config.yaml's, through mnist1d.experiments.ssl.train_job, the job function the pipeline runs:
training, per-layer probes, embeddings; with --seeds and --compile) and prints its wall time and
the numbers against the paper's. Data: results/data/default.npz or generated.
"""
import argparse
import logging
import sys
import time
from pathlib import Path

import torch

from speed_under_load import preset_config

from mnist1d.experiments import ssl
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.store import load_dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timing")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--compile", type=int, default=1)
    parser.add_argument("--results", default="results")
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    path = Path(a.results) / "data" / "default.npz"
    data = load_dataset(path) if path.exists() else make_dataset(get_dataset_args())
    seeds = list(range(a.seeds))
    print(f"torch {torch.__version__}, {a.threads} thread(s), seeds {seeds}")
    if a.full:
        p = ssl.protocol_from_config(preset_config("paper")) | {"seeds": seeds,
                                                                "compile": bool(a.compile)}
        log = logging.getLogger("speed_ssl")   # the job's lines: its training and probe times
        log.addHandler(logging.StreamHandler(sys.stdout))
        log.setLevel(logging.INFO)
        t0 = time.perf_counter()
        table = ssl.train_job(p, {"dataset": data}, logger=log)["csv"]
        t1 = time.perf_counter()
        print(table.groupby(["stage", "layer"], sort=False)[["knn_acc", "linear_acc"]].mean()
              .round(1).to_string())
        print(f"whole experiment {t1 - t0:.1f} s (target: at most 180 s)")
        return
    settings = {"epochs": a.epochs}
    t = time.perf_counter()
    ssl.train_plain(data["x"], 0, settings, dtype=torch.float32)
    plain = (time.perf_counter() - t) / a.epochs
    t = time.perf_counter()
    ssl.train_ssl(data["x"], seeds, settings)
    eager = (time.perf_counter() - t) / a.epochs
    t = time.perf_counter()
    ssl.train_ssl(data["x"], seeds, {"epochs": 1}, compile=True)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    ssl.train_ssl(data["x"], seeds, settings, compile=True)
    comp = (time.perf_counter() - t) / a.epochs
    S, E = len(seeds), ssl.DEFAULTS["epochs"]
    print(f"s per epoch: plain one seed {plain:.2f}; ensemble of {S}: eager {eager:.2f} "
          f"({eager / plain:.1f}x one plain run), compiled {comp:.2f} ({comp / plain:.1f}x; first "
          f"compile {compile_s:.0f} s)")
    print(f"projected training, {E} epochs, {S} seeds: plain loop {S * E * plain / 60:.1f} min, "
          f"eager ensemble {E * eager / 60:.1f} min, compiled ensemble {E * comp / 60:.1f} min "
          f"(+ compile)")


if __name__ == "__main__":
    main()
