"""Robust under load: three training jobs alone and beside a busy core.

    PYTHONPATH=. python benchmarks/speed_under_load.py [--threads 1] [--compile | --no-compile]
        [--repeat 2] [--jobs lottery_round dd_job benchmark_job] [--busy python|matmul]
        [--dd-epochs 50] [--preset paper]

A shared workstation or a busy cluster node rarely gives a job its cores to itself. This times
three jobs of the paper protocol, each in a fresh interpreter that sets its threads as a pipeline
job does (mnist1d.pipeline.device.set_threads(N), N = --threads, the jobs' `threads` in
config.yaml), once alone and once while another process keeps one core busy (a pure-Python loop,
or with --busy matmul a one-thread NumPy matrix product loop; started before the job, killed
after), alternating alone / busy `--repeat` times. It prints each job's median seconds alone and
beside the busy core and their ratio, which must stay under 2.5 (the exit status is 1 if not).

The jobs (the paper protocol of config.yaml, through the package's own functions):
  * lottery_round: one network of the lottery search, one round: MLP 40-500-500-10 on the
    paper dataset, batch 100, 1 501 Adam steps, evaluation every 100 steps
    (lottery.search(data, 500, engine, trials=(42,), methods=("magnitude",), rounds=1));
  * dd_job: the first MLP job of the double-descent plan (mlp_cross_entropy_g0: widths 300 and
    230 x both noise levels as one padded ensemble, SGD with momentum, batch 100, 4 000 training
    examples, 12 000 test), but only --dd-epochs of its 500 epochs (default 50: a tenth, 2 000
    steps; the per-step cost is the paper's);
  * benchmark_job: the MLP on the normal data, its three seeds as one ensemble, 6 001 Adam steps,
    evaluation every 250 (benchmark.protocol_from_config + benchmark.train_job, the job's
    function: its training and its test predictions).
The time is the job's computation alone (the interpreter's start-up and the data loading are not
in it). The datasets are generated once into a temporary folder. Run it on an otherwise idle
machine; on a loaded one the "alone" times are not alone.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
JOBS = ("lottery_round", "dd_job", "benchmark_job")
LIMIT = 2.5
BUSY = {
    "python": "while True:\n    pass\n",
    "matmul": ("import numpy as np\na = np.random.rand(400, 400)\n"
               "while True:\n    a = a @ a\n    a /= np.abs(a).max()\n"),
}


def preset_config(preset="paper"):
    import yaml

    from mnist1d.pipeline import config as config_lib

    cfg = yaml.safe_load(open(REPO / "config.yaml"))
    return config_lib.resolve(cfg | {"preset": preset}, {}, REPO / "workflow" / "presets")


def make_datasets(config, folder):
    """The datasets the jobs train on, as .npz files in `folder`: name -> path."""
    from mnist1d.data import get_dataset_args, make_dataset
    from mnist1d.store import save_dataset
    from mnist1d.utils import ObjectView

    names = {config["lottery"]["search"]["dataset"], config["double_descent"]["dataset"],
             config["benchmark"]["variants"]["normal"]}
    paths = {}
    for name in sorted(names):
        args = get_dataset_args(as_dict=True) | dict(config["datasets"][name] or {})
        paths[name] = str(Path(folder) / f"{name}.npz")
        save_dataset(make_dataset(ObjectView(args)), args, paths[name])
    return paths


# --- the child: one job in a fresh interpreter ----------------------------------------------

def run_job(job, threads, compile, paths, dd_epochs, preset="paper"):
    """Train `job` as a pipeline job does (its threads, subnormals flushed); the seconds its
    training took."""
    from mnist1d.pipeline import device

    device.set_threads(threads)          # what every training script does first
    with device.flush_denormals():       # as job_device does on the CPU
        return _train_job(job, compile, paths, dd_epochs, preset)


def _train_job(job, compile, paths, dd_epochs, preset):
    from mnist1d.store import load_dataset

    config = preset_config(preset)
    if job == "lottery_round":
        from mnist1d import specs
        from mnist1d.experiments import lottery

        section = config["lottery"]["search"]
        data = load_dataset(paths[section["dataset"]])
        engine = specs.adam_in_order(section)
        t0 = time.perf_counter()
        lottery.search(data, config["lottery"]["hidden"], engine, trials=(42,),
                       methods=("magnitude",), rounds=1, compile=compile)
        return time.perf_counter() - t0
    if job == "dd_job":
        from mnist1d.experiments import double_descent as dd

        section = config["double_descent"]
        job_ = next(j for j in dd.plan_jobs(section) if j["arch"] == "mlp")
        base = load_dataset(paths[section["dataset"]])
        datasets = {}
        for noise in job_["noises"]:      # seeded noise: the labels' values do not change the cost
            datasets[noise] = dict(base, y=dd.noisy_labels(base["y"], noise, 0)) if noise else base
        p = dd.protocol_from_config(config, job_["name"])
        p.update(epochs=min(dd_epochs, p["epochs"]), compile=compile)
        t0 = time.perf_counter()
        dd.train_job(p, datasets)
        return time.perf_counter() - t0
    if job == "benchmark_job":
        from mnist1d.experiments import benchmark

        p = benchmark.protocol_from_config(config, "mlp", "normal") | {"compile": compile}
        data = load_dataset(paths[config["benchmark"]["variants"]["normal"]])
        t0 = time.perf_counter()
        benchmark.train_job(p, {"dataset": data})
        return time.perf_counter() - t0
    raise ValueError(f"unknown job {job!r}; one of {JOBS}")


# the experiment whose `compile` choice (config.yaml: true/false or per experiment) a job follows
EXPERIMENT = {"lottery_round": "lottery", "dd_job": "double_descent", "benchmark_job": "benchmark"}


def child_seconds(job, args, paths):
    """One job in a fresh interpreter: its training seconds."""
    cmd = [sys.executable, __file__, "--child", job, "--threads", str(args.threads),
           "--paths", json.dumps(paths), "--dd-epochs", str(args.dd_epochs), "--preset", args.preset,
           "--compile" if args.compile[job] else "--no-compile"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"job {job} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def busy_core(kind):
    """A process that keeps one core busy until it is killed."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", BUSY[kind]], env=env)
    time.sleep(0.5)                                   # running before the job starts
    return proc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="threads of each job (config.yaml)")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                    help="torch.compile the training steps (default: config.yaml's `compile`)")
    ap.add_argument("--repeat", type=int, default=2, help="alone / busy pairs per job (median)")
    ap.add_argument("--jobs", nargs="*", default=list(JOBS), choices=JOBS)
    ap.add_argument("--busy", default="python", choices=sorted(BUSY),
                    help="what keeps the other core busy")
    ap.add_argument("--dd-epochs", type=int, default=50,
                    help="epochs of the double-descent job (the paper's: 500)")
    ap.add_argument("--preset", default="paper",
                    help="the protocol (paper; smoke only checks that the script runs)")
    ap.add_argument("--child", choices=JOBS, help=argparse.SUPPRESS)
    ap.add_argument("--paths", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads < 1 or args.repeat < 1 or args.dd_epochs < 1:
        ap.error("--threads, --repeat and --dd-epochs must be at least 1")
    if args.child:
        seconds = run_job(args.child, args.threads, bool(args.compile), json.loads(args.paths),
                          args.dd_epochs, args.preset)
        print(json.dumps({"seconds": seconds}))
        return

    sys.path.insert(0, str(REPO))
    config = preset_config(args.preset)
    from mnist1d.specs import compile_for
    args.compile = {job: compile_for(config, EXPERIMENT[job]) if args.compile is None
                    else args.compile for job in JOBS}
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start; "
          f"{args.threads} thread(s) per job, compile {args.compile}, busy core: {args.busy}, "
          f"median of {args.repeat}; {args.preset} protocol, double descent at "
          f"{min(args.dd_epochs, config['double_descent']['epochs'])} of "
          f"{config['double_descent']['epochs']} epochs")
    rows, worst = [], 0.0
    with tempfile.TemporaryDirectory(prefix="mnist1d-load-") as folder:
        paths = make_datasets(config, folder)
        for job in args.jobs:
            alone, busy = [], []
            for _ in range(args.repeat):
                alone.append(child_seconds(job, args, paths))
                proc = busy_core(args.busy)
                try:
                    busy.append(child_seconds(job, args, paths))
                finally:
                    proc.kill()
                    proc.wait()
            a, b = statistics.median(alone), statistics.median(busy)
            rows.append((job, a, b, b / a))
            worst = max(worst, b / a)
            print(f"  {job}: alone {[round(s, 1) for s in alone]}, beside a busy core "
                  f"{[round(s, 1) for s in busy]}", flush=True)
    print("\n| job | alone (s) | beside a busy core (s) | ratio |\n|---|---|---|---|")
    for job, a, b, r in rows:
        print(f"| {job} | {a:.1f} | {b:.1f} | {r:.2f} |")
    print(f"\nworst slowdown {worst:.2f}x: {'under' if worst < LIMIT else 'NOT under'} {LIMIT}x "
          f"(load average now {os.getloadavg()[0]:.2f})")
    sys.exit(0 if worst < LIMIT else 1)


if __name__ == "__main__":
    main()
