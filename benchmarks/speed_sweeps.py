"""The sweeps' cost: `snakemake sweeps` for one preset, timed end to end.

    python benchmarks/speed_sweeps.py --preset quick                # in a fresh folder
    python benchmarks/speed_sweeps.py --preset paper --cores 2
    python benchmarks/speed_sweeps.py --preset paper --compile on   # every sweep job compiled
    python benchmarks/speed_sweeps.py --preset smoke --in-repo      # the repository's results/

Runs `snakemake --cores N sweeps --config preset=P` from scratch (a new temporary folder, unless
--in-repo, where it reruns every sweep job with --forcerun) and prints the wall time and, from
the jobs' `benchmark:` files (RESULTS/timing/sweeps/*.tsv), the summed job wall and CPU time,
split into datasets, training (per sweep) and tables/figures. The aim: the paper
preset's sweeps together cost less than the paper's `all` (49 min with one seed on an idle 2-core
machine in 2026-11; benchmarks/README.md). --compile on|off overrides `sweeps.defaults.compile` (on: and the
top-level `compile` for sweeps) through a config overlay (compile on: cold compiles unless
torch's inductor cache already holds the shapes; run it twice to see the warm-cache cost).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent


def job_times(timing_dir):
    """One row per sweep job: its name, kind (data, train, table/figure), sweep, wall and CPU s."""
    rows = []
    for path in sorted(Path(timing_dir).glob("*.tsv")):
        frame = pd.read_csv(path, sep="\t")
        name = path.stem
        kind = ("data" if name.startswith("data_") else
                "tables/figures" if name.endswith(("_table", "_figure")) else "train")
        rows.append({"job": name, "kind": kind, "wall_s": float(frame["s"].iloc[0]),
                     "cpu_s": float(frame["cpu_time"].iloc[0]) if "cpu_time" in frame else float("nan")})
    return pd.DataFrame(rows, columns=["job", "kind", "wall_s", "cpu_s"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="paper", choices=["paper", "quick", "smoke"])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--compile", choices=["on", "off"], default=None,
                        help="override sweeps.defaults.compile (default: the config's)")
    parser.add_argument("--in-repo", action="store_true",
                        help="run in the repository (its results/ folder) instead of a fresh one")
    parser.add_argument("--keep", action="store_true", help="keep the fresh folder")
    parser.add_argument("--configfile", nargs="+", default=[],
                        help="config overlays (e.g. examples/resnet1d.yaml); --preset still applies")
    args = parser.parse_args()

    workdir = REPO if args.in_repo else Path(tempfile.mkdtemp(prefix="speed_sweeps_"))
    extra = []
    if args.compile is not None:
        overlay = Path(tempfile.mkdtemp(prefix="speed_sweeps_cfg_")) / "compile.yaml"
        text = f"sweeps: {{defaults: {{compile: {str(args.compile == 'on').lower()}}}}}\n"
        if args.compile == "on":     # the top-level switch for sweeps too (quick: compile false)
            text += "compile: {sweeps: true}\n"
        overlay.write_text(text)
        extra += ["--configfile", str(overlay)]
    extra += [arg for path in args.configfile for arg in ("--configfile", str(Path(path).resolve()))]
    if args.in_repo:
        extra += ["--forcerun", "sweep_dataset", "sweep_train", "sweep_table", "sweep_figure"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(workdir), "--cores", str(args.cores), "sweeps", *extra, "--config",
           f"preset={args.preset}"]
    print(" ".join(cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"snakemake failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    results = workdir / ("results" if args.preset == "paper" else f"results/{args.preset}")
    for path in args.configfile:                     # an overlay may send results elsewhere
        import yaml
        results = workdir / (yaml.safe_load(Path(path).read_text()) or {}).get("results_dir", results)
    jobs = job_times(results / "timing" / "sweeps")
    train = jobs[jobs.kind == "train"].copy()
    # job names: {sweep}_{value}{chunk}, the chunk "" or _seed3 / _seeds0-2
    # (mnist1d.experiments.seed_chunks)
    train["sweep"] = [re.match(r"^(.*?)_([^_]+)(_seeds?\d+(?:-\d+)?)?$", j).group(1)
                      for j in train["job"]]
    print(f"\npreset {args.preset}, --cores {args.cores}, compile "
          f"{args.compile or 'as configured'}: wall time {wall:.0f} s ({wall / 60:.1f} min), "
          f"{len(jobs)} jobs")
    print(jobs.groupby("kind")[["wall_s", "cpu_s"]].agg(["sum", "count"]).round(1).to_string())
    print("\ntraining job time per sweep (s):")
    print(train.groupby("sweep")["wall_s"].agg(["sum", "mean", "max", "count"]).round(1).to_string())
    print(f"\nsum of job wall times {jobs.wall_s.sum():.0f} s ({jobs.wall_s.sum() / 60:.1f} min), "
          f"CPU {jobs.cpu_s.sum():.0f} s; results in {results}")
    if not args.in_repo and not args.keep:
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
