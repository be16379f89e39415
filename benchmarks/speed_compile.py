"""Does torch.compile pay back within each training job, on a cold cache?

    PYTHONPATH=. python3 benchmarks/speed_compile.py [--preset paper] [--only KIND ...]
        [--steps 300] [--dd-jobs mlp_cross_entropy_g0 cnn_cross_entropy_g0 | all]
        [--pooling-variant max] [--cold-headers] [--json OUT.json] [--list]

For every kind of compiled training job of the preset (KINDS below; `--only` picks some, `--list`
names them) it runs two fresh Python processes, one after the other, each with one CPU thread
(OMP_NUM_THREADS=1, torch.set_num_threads(1): what a one-thread pipeline job gets) and with
TORCHINDUCTOR_CACHE_DIR and TRITON_CACHE_DIR pointing at one new, empty temporary folder:

* cold: the first two calls of the compiled step (the compile, the cache empty), then blocks of
  compiled and eager steps interleaved (load drift hits both alike): seconds per step of each.
  Inductor's precompiled C++ header is not in that folder: it is built once per machine (in
  $TMPDIR/torchinductor_$USER) and shared, so the cold compile here leaves it out; with
  `--cold-headers` each cold run builds it too ($TMPDIR pointed into the new folder);
* warm: the same folder again, now filled by the cold run: the first two calls (the compile from
  inductor's on-disk cache; Dynamo still traces) and one block of compiled steps.

The step is built exactly as the job builds it (the experiment's own make_step, the job's model,
ensemble size, masks, batch, per-member inputs and labels), on random inputs of the job's shapes
(the time of a step depends on the shapes only). Compile time = the first two calls minus two
steady compiled steps. From the job's number of steps at the preset's protocol (its training
steps; the evaluations are eager in both cases and left out) it prints, per kind: the cold and
warm compile, ms per step compiled and eager, the job's training time eager, compiled warm and
compiled cold, the steps after which a cold compile is paid back, and whether it is paid back
within the job; how far the compiled run's losses are from the eager run's (same start, same
batches: at the first step float32 rounding alone). Then one line per experiment, its jobs
counted as the preset plans them (double descent: the measured groups only; `--dd-jobs all`
measures each of its groups), with what the preset's `compile` does now.

Absolute times drift on a loaded machine: compare the ratios within one row. A whole run of
every kind took 13.5 minutes beside other work (load 3-5 on 2 cores; the GRU's cold compile alone
177 s, about 100 s idle); expect 10-12 minutes on an idle 2-core machine. The kinds run one after
the other, never side by side.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# kind -> (experiment, what the job is)
KINDS = {
    "benchmark-logistic": ("benchmark", "logistic regression, the seeds as one ensemble"),
    "benchmark-mlp": ("benchmark", "MLP, the seeds as one ensemble"),
    "benchmark-cnn": ("benchmark", "CNN, the seeds as one ensemble"),
    "benchmark-gru": ("benchmark", "GRU, the seeds as one ensemble"),
    "pooling": ("pooling", "one variant: 6 dataset sizes x seeds as one ensemble"),
    "dd-mlp": ("double_descent", "one MLP group (a padded ensemble)"),
    "dd-cnn": ("double_descent", "one CNN group (a padded ensemble)"),
    "lottery-search": ("lottery", "one search member: K=1 masked MLP, every round"),
    "lottery-analysis": ("lottery", "one analysis part: K=5 masked MLPs, batch 500"),
    "ssl": ("ssl", "the main SSL model, the seeds as one ensemble"),
    "metalearn-afunc": ("metalearn", "the activation job; one step = one outer step"),
}
DD_DEFAULT = {"dd-mlp": "mlp_cross_entropy_g0", "dd-cnn": "cnn_cross_entropy_g0"}


# --- the jobs (imported in the child only: the parent never imports torch) --------------------

def resolved_config(preset):
    import yaml
    from mnist1d.pipeline import config as config_lib
    with open(REPO / "config.yaml") as f:
        raw = yaml.safe_load(f)
    return config_lib.resolve(raw | {"preset": preset}, {}, REPO / "workflow" / "presets")


def dataset_shape(config, name):
    """(n_train, n_test, length) of the config's dataset `name`, as make_dataset splits it."""
    from mnist1d.data import get_dataset_args
    args = get_dataset_args(as_dict=True) | (config["datasets"].get(name) or {})
    n = int(args["num_samples"]) // 10 * 10
    n_train = int(n * args["train_split"])
    return n_train, n - n_train, int(args["final_seq_length"])


def random_data(n, length, gen):
    import torch
    return (torch.randn(n, length, generator=gen),
            torch.randint(0, 10, (n,), generator=gen))


class Job:
    """A kind's job: `steps` at the protocol, `make(compile)` -> run(i), which does step i."""

    def __init__(self, steps, make, note=""):
        self.steps, self.make, self.note = int(steps), make, note


def engine_job(spec, protocol, seeds, x, y, masks=None, params=None):
    """A job of the engine (mnist1d.train.train's loop): make(compile) -> run(i)."""
    import torch
    from mnist1d import models, specs, train
    protocol = specs.protocol_of(protocol)

    def make(compile):
        p = ({k: v.clone() for k, v in params.items()} if params is not None
             else models.init_params(spec, seeds, torch.float32, "cpu"))
        state = train.init_state(p, protocol)
        step = train.make_step(spec, protocol, masks, compile)
        batches = train.Batches(x, y, protocol, seeds)
        return lambda i: step(p, state, *batches(i))

    return Job(protocol["steps"] + 1, make)


def job_of(kind, config, options):
    import torch
    from mnist1d import models
    gen = torch.Generator().manual_seed(0)
    experiment = KINDS[kind][0]

    if experiment == "benchmark":
        from mnist1d.experiments import benchmark
        p = benchmark.protocol_from_config(config, kind.split("-")[1], "normal")
        n, _, length = dataset_shape(config, config["benchmark"]["variants"]["normal"])
        x, y = random_data(n, length, gen)
        return engine_job(p["spec"], p["engine"], p["seeds"], x, y)

    if kind == "pooling":
        from mnist1d import specs
        from mnist1d.experiments import pooling
        variant = options["pooling_variant"]
        p = pooling.protocol_from_config(config, variant)
        spec, protocol = pooling.spec_of(variant, p["channels"]), specs.protocol_of(p["engine"])
        seeds, bs = p["seeds"], protocol["batch_size"]
        sizes = [dataset_shape(config, d)[0] for d in p["datasets"]]
        length = dataset_shape(config, p["datasets"][0])[2]
        x, y = random_data(sum(sizes), length, gen)
        S = len(seeds)
        offsets = torch.repeat_interleave(torch.tensor([0] + sizes[:-1]).cumsum(0), S)
        n_member = torch.repeat_interleave(torch.tensor(sizes), S)
        arange = torch.arange(bs)

        def make(compile):
            base = models.init_params(spec, seeds, torch.float32, "cpu")
            params = {k: v.repeat(len(sizes), *([1] * (v.dim() - 1))).contiguous()
                      for k, v in base.items()}
            state = train.init_state(params, protocol)
            step = train.make_step(spec, protocol, compile=compile)

            def run(i):
                idx = (offsets + (i * bs) % n_member).unsqueeze(1) + arange
                return step(params, state, x[idx], y[idx])
            return run
        return Job(protocol["steps"] + 1, make, f"variant {variant}, {len(sizes) * S} members")

    if experiment == "double_descent":
        from mnist1d.experiments import double_descent as dd
        section = config["double_descent"]
        name = options["dd_job"] or DD_DEFAULT[kind]
        jobs = {j["name"]: j for j in dd.plan_jobs(section)}
        if name not in jobs:
            raise SystemExit(f"--dd-jobs: no double-descent job {name!r} in this preset; jobs: "
                             f"{sorted(jobs)}")
        job = jobs[name]
        members = dd.job_members(job)
        n, _, length = dataset_shape(config, section["dataset"])
        x, _ = random_data(n, length, gen)
        labels = torch.randint(0, 10, (len(members), n), generator=gen)
        spec, params, masks = dd.padded_ensemble(job["arch"], [(s, seed) for s, _, seed in members])
        protocol = dd.engine_protocol(section, job["loss"], n)
        out = engine_job(spec, protocol, [seed for _, _, seed in members], x, labels, masks, params)
        out.note = f"{name}: {len(members)} members, sizes {job['sizes']}"
        return out

    if experiment == "lottery":
        from mnist1d.experiments import lottery
        part = kind.split("-")[1]
        p = lottery.protocol_from_config(config, part)
        section = config["lottery"][part]
        spec = lottery.spec_of(p["hidden"])
        n, _, length = dataset_shape(config, section["dataset"])
        K = 1 if part == "search" else 5
        x, y = random_data(n, length, gen)
        if part == "analysis":      # every member its own view of the inputs: (K, n, length)
            x = torch.stack([x[:, torch.randperm(length, generator=gen)] for _ in range(K)])
        shapes = {k: v.shape for k, v in models.init_params(spec, range(K)).items()}
        keep = 1.0 if part == "search" else 1 - float(section["sparsity"])
        masks = {k: (torch.rand(s, generator=gen) < keep).float() for k, s in shapes.items()}
        out = engine_job(spec, p["engine"], list(range(K)), x, y, masks)
        if part == "search":        # every round trains steps 0..steps anew
            out.steps *= int(p["rounds"])
            out.note = f"{p['rounds']} rounds x {p['engine']['steps'] + 1} steps"
        return out

    if kind == "ssl":
        from mnist1d import specs, train
        from mnist1d.experiments import ssl
        p = ssl.protocol_from_config(config)
        s, seeds = ssl.settings_of(p["settings"]), p["seeds"]
        protocol = specs.protocol_of({"optimizer": "adam", "lr": s["lr"]})
        n, _, length = dataset_shape(config, config["ssl"]["dataset"])
        x, _ = random_data(n, length, gen)

        def make(compile):
            params = ssl.init_params(s, seeds, torch.float32, "cpu")
            state = train.init_state(params, protocol)
            step = ssl.make_step(s, protocol, compile)
            draws = ssl.Draws(seeds, n, s)
            perms = torch.stack(draws.epoch())

            def run(i):
                b = i % draws.steps_per_epoch
                idx = perms[:, b * s["batch_size"]:(b + 1) * s["batch_size"]]
                return step(params, state, x[idx], *draws.augmentations())
            return run
        return Job(s["epochs"] * (n // s["batch_size"]), make)

    if kind == "metalearn-afunc":
        from mnist1d.experiments import metalearn_afunc as afunc
        section = config["metalearn"]["afunc"]
        n, n_test, length = dataset_shape(config, section["dataset"])
        x, y = random_data(n, length, gen)
        x_test, y_test = random_data(n_test, length, gen)
        data_t = (x, y, x_test, y_test)

        def make(compile):
            cfg = afunc.AfuncConfig.from_dict(
                dict(section, implementation="compiled" if compile else "fused"))
            act = afunc.init_act_params(cfg)
            return lambda i: afunc.afunc_outer_step(act, data_t, cfg, i, "cpu", torch.float32)
        return Job(section["outer_steps"], make,
                   f"{section['inner_steps']} inner steps per outer step; compiled vs fused")

    raise SystemExit(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")


# --- the child: one process, one cache state ----------------------------------------------------

def child(args):
    import torch
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)      # as a pipeline job on the CPU (device.flush_denormals)
    config = resolved_config(args.preset)
    job = job_of(args.kind, config,
                 {"dd_job": args.dd_job, "pooling_variant": args.pooling_variant})
    timed = args.timed_steps
    out = {"kind": args.kind, "mode": args.mode, "steps": job.steps, "note": job.note,
           "timed_steps": timed, "torch": torch.__version__, "threads": torch.get_num_threads()}

    losses = {True: [], False: []}      # what each step returned, compiled and eager

    def block(run, start, n, compiled):
        kept = losses[compiled]
        t0 = time.perf_counter()
        for i in range(start, start + n):
            kept.append(run(i))
        return (time.perf_counter() - t0) / n

    compiled = job.make(True)
    t0 = time.perf_counter()
    losses[True].append(compiled(0))
    t1 = time.perf_counter()
    losses[True].append(compiled(1))
    t2 = time.perf_counter()
    out["first_call_s"], out["second_call_s"] = t1 - t0, t2 - t1
    blocks = 1 if args.mode == "warm" else args.blocks
    per_block = max(1, timed // blocks)
    comp, eager = [], []
    run_eager = job.make(False) if args.mode == "cold" else None
    if run_eager is not None:            # eager's own first call (allocations, lazy imports)
        losses[False].append(run_eager(0))
    for b in range(blocks):
        comp.append(block(compiled, 2 + b * per_block, per_block, True))
        if run_eager is not None:
            eager.append(block(run_eager, 1 + b * per_block, per_block, False))
    if run_eager is not None:            # the same trajectory both ways: float32 agreement
        out["agreement"] = agreement(losses[True], losses[False])
    out["compiled_s"] = statistics.median(comp)
    out["eager_s"] = statistics.median(eager) if eager else None
    out["compile_s"] = max(0.0, out["first_call_s"] + out["second_call_s"] - 2 * out["compiled_s"])
    print(json.dumps(out), flush=True)


def agreement(compiled, eager):
    """How far the compiled run's per-step losses are from the eager run's (both started from
    the same parameters on the same batches): the relative difference at the first step (float32
    rounding alone) and at the last step both ran (rounding amplified by training on the random
    inputs and labels; the jobs' real-data agreement is what tests/ and docs/ state)."""
    import torch

    def loss(value):                     # a step's losses; the activation job's outer loss
        value = value[1] if isinstance(value, tuple) else value
        return value.detach().double().reshape(-1)
    n = min(len(compiled), len(eager))
    a = torch.stack([loss(v) for v in compiled[:n]])
    b = torch.stack([loss(v) for v in eager[:n]])
    rel = ((a - b).abs() / b.abs().clamp_min(1e-12)).max(1).values
    return {"steps": n, "first_rel": rel[0].item(), "last_rel": rel[-1].item()}


# --- the parent: the cold and warm processes per kind, the table --------------------------------

def run_child(kind, mode, cache, args, dd_job=None):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               TORCHINDUCTOR_CACHE_DIR=str(cache), TRITON_CACHE_DIR=str(Path(cache) / "triton"),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if args.cold_headers:       # inductor's precompiled headers live in $TMPDIR/torchinductor_USER
        (Path(cache) / "tmp").mkdir(exist_ok=True)
        env["TMPDIR"] = str(Path(cache) / "tmp")
    timed = args.afunc_steps if kind == "metalearn-afunc" else args.steps
    cmd = [sys.executable, __file__, "--child", kind, "--mode", mode, "--preset", args.preset,
           "--timed-steps", str(timed if mode == "cold" else max(1, timed // 3)),
           "--blocks", str(args.blocks), "--pooling-variant", args.pooling_variant]
    if dd_job:
        cmd += ["--dd-job", dd_job]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"{kind} ({mode}) failed with exit status {proc.returncode}:\n"
                           + proc.stderr[-3000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    return result


def measure(kind, args, dd_job=None):
    cache = Path(tempfile.mkdtemp(prefix="mnist1d-compile-cache-"))
    try:
        cold = run_child(kind, "cold", cache, args, dd_job)
        warm = run_child(kind, "warm", cache, args, dd_job)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    steps, c, e = cold["steps"], cold["compiled_s"], cold["eager_s"]
    saving = e - c
    row = {"kind": kind, "experiment": KINDS[kind][0], "note": cold["note"], "steps": steps,
           "cold_compile_s": cold["compile_s"], "warm_compile_s": warm["compile_s"],
           "compiled_ms": 1e3 * c, "eager_ms": 1e3 * e, "speedup": e / c,
           "eager_job_s": steps * e, "warm_job_s": steps * c + warm["compile_s"],
           "cold_job_s": steps * c + cold["compile_s"],
           "break_even_steps": cold["compile_s"] / saving if saving > 0 else float("inf"),
           "cold_process_s": cold["process_s"], "warm_process_s": warm["process_s"],
           "agreement": cold.get("agreement")}
    row["pays_cold"] = row["cold_job_s"] < row["eager_job_s"]
    row["pays_warm"] = row["warm_job_s"] < row["eager_job_s"]
    return row


def experiment_jobs(preset):
    """How many jobs of each kind the preset plans (for the per-experiment lines): a job with
    shapes that another job of the run has compiled before pays only the warm compile."""
    config = resolved_config(preset)
    b = config["benchmark"]
    from mnist1d.experiments import seed_chunks
    chunks = len(seed_chunks.chunks_of(b, "benchmark"))
    lottery_search = len(config["lottery"]["search"]["trials"]) * len(
        config["lottery"]["search"]["methods"])
    return {  # kind -> (jobs, of which compile cold: the distinct shapes)
        **{f"benchmark-{m}": (len(b["variants"]) * chunks, 1) for m in b["models"]
           if m in ("logistic", "mlp", "cnn", "gru")},
        "pooling": (len(config["pooling"]["variants"]), len(config["pooling"]["variants"])),
        # the lottery split as the pipeline runs it: a job per search member (trial x method) and
        # per five analysis networks (15 per trial)
        "lottery-search": (lottery_search, 1),
        "lottery-analysis": (-(-15 * len(config["lottery"]["analysis"]["trials"]) // 5), 1),
        "ssl": (1, 1),
        "metalearn-afunc": (1, 1),
    }


def print_table(rows, preset):
    print(f"\ntorch.compile per training job, preset {preset}, 1 thread; job times are its "
          f"training steps (evaluations are eager either way)")
    head = (f"{'kind':<17}{'steps':>8}{'cold':>8}{'warm':>7}{'comp':>8}{'eager':>8}{'x':>6}"
            f"{'eager':>9}{'warm':>9}{'cold':>9}{'break':>9}  pays")
    print(head)
    print(f"{'':<17}{'':>8}{'compile s':>15}{'ms/step':>16}{'':>6}{'job, seconds':>27}"
          f"{'even':>9}  cold")
    for r in rows:
        print(f"{r['kind']:<17}{r['steps']:>8}{r['cold_compile_s']:>8.1f}"
              f"{r['warm_compile_s']:>7.1f}"
              f"{r['compiled_ms']:>8.2f}{r['eager_ms']:>8.2f}{r['speedup']:>6.2f}"
              f"{r['eager_job_s']:>9.1f}{r['warm_job_s']:>9.1f}"
              f"{r['cold_job_s']:>9.1f}{r['break_even_steps']:>9.0f}  "
              f"{'yes' if r['pays_cold'] else 'NO'}")
    print("compiled vs eager from the same start on the same batches, float32: the relative "
          "difference of a step's losses (the activation job: its outer loss) at the first step "
          "(rounding) and the last timed one (rounding amplified by training on random data)")
    for r in rows:
        a = r.get("agreement")
        agree = (f"losses differ by {a['first_rel']:.1e} at the first step, {a['last_rel']:.1e} "
                 f"after {a['steps']}" if a else "")
        if r["note"] or agree:
            print(f"  {r['kind']}: " + "; ".join(t for t in (r["note"], agree) if t))


def print_experiments(rows, preset):
    counts = experiment_jobs(preset)
    totals = {}
    for r in rows:
        jobs, cold = counts.get(r["kind"], (1, 1))
        note = ""
        if r["kind"].startswith("dd-"):     # groups differ in size: each measured one once
            jobs = cold = 1
            note = "the measured groups only; --dd-jobs all measures every one"
        t = totals.setdefault(r["experiment"], {"eager": 0.0, "cold": 0.0, "warm": 0.0,
                                                 "all_cold": 0.0, "jobs": 0, "notes": set()})
        t["eager"] += jobs * r["eager_job_s"]
        t["warm"] += jobs * r["warm_job_s"]
        t["cold"] += cold * r["cold_job_s"] + (jobs - cold) * r["warm_job_s"]
        t["all_cold"] += jobs * r["cold_job_s"]
        t["jobs"] += jobs
        if note:
            t["notes"].add(note)
    from mnist1d.specs import compile_for
    config = resolved_config(preset)
    print(f"\nper experiment, training minutes of its jobs as the {preset} preset plans them: "
          f"eager; compiled, warm cache; compiled, cold cache where a job whose shapes another job "
          f"compiled before pays the warm compile (jobs one after the other); compiled, every job "
          f"cold (jobs side by side); what the preset does now:")
    print(f"{'experiment':<16}{'jobs':>5}{'eager':>8}{'warm':>8}{'cold':>8}{'all cold':>9}"
          f"  pays cold  preset")
    for name, t in totals.items():
        pays = ("yes" if t["all_cold"] < t["eager"] else
                "if serial" if t["cold"] < t["eager"] else "NO")
        now = "compiled" if compile_for(config, name) else "eager"
        print(f"{name:<16}{t['jobs']:>5}{t['eager'] / 60:>8.1f}{t['warm'] / 60:>8.1f}"
              f"{t['cold'] / 60:>8.1f}{t['all_cold'] / 60:>9.1f}  {pays:<9}  {now}"
              + (f"  ({'; '.join(sorted(t['notes']))})" if t["notes"] else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="paper", choices=("paper", "quick", "smoke"))
    parser.add_argument("--only", nargs="+", metavar="KIND", help=f"kinds: {', '.join(KINDS)}")
    parser.add_argument("--list", action="store_true", help="name the kinds and stop")
    parser.add_argument("--steps", type=int, default=300,
                        help="steps timed per mode after the compile (cold run)")
    parser.add_argument("--afunc-steps", type=int, default=2,
                        help="outer steps timed per mode for metalearn-afunc (each ~1 s)")
    parser.add_argument("--blocks", type=int, default=3, help="interleaved blocks per mode")
    parser.add_argument("--dd-jobs", nargs="+", default=None,
                        help="double-descent jobs to measure (names from plan_jobs, or 'all'); "
                             "default: the largest MLP and CNN groups")
    parser.add_argument("--pooling-variant", default="max")
    parser.add_argument("--cold-headers", action="store_true",
                        help="cold runs build inductor's precompiled C++ header too (once per "
                             "machine, in $TMPDIR/torchinductor_$USER; otherwise shared, not "
                             "counted)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    # the child's own arguments
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("cold", "warm"), help=argparse.SUPPRESS)
    parser.add_argument("--timed-steps", type=int, default=300, help=argparse.SUPPRESS)
    parser.add_argument("--dd-job", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.kind = args.child
        return child(args)
    if args.list:
        for kind, (experiment, what) in KINDS.items():
            print(f"{kind:<18} {experiment:<15} {what}")
        return
    kinds = args.only or list(KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        parser.error(f"--only: unknown kinds {unknown}; kinds: {', '.join(KINDS)}")
    plan = []
    for kind in kinds:
        if kind.startswith("dd-") and args.dd_jobs:
            if args.dd_jobs == ["all"]:
                from mnist1d.experiments import double_descent as dd
                names = [j["name"] for j in dd.plan_jobs(resolved_config(args.preset)
                                                         ["double_descent"])]
            else:
                names = args.dd_jobs
            plan += [(kind, n) for n in names if n.startswith(kind[3:] + "_")]
        else:
            plan.append((kind, None))
    rows = []
    t_start = time.perf_counter()
    failed = []
    for kind, dd_job in plan:
        try:
            row = measure(kind, args, dd_job)
        except RuntimeError as err:       # the others still run; the exit status says so
            print(err, file=sys.stderr, flush=True)
            failed.append(kind)
            continue
        rows.append(row)
        print(f"{kind}{' ' + dd_job if dd_job else ''}: compile cold "
              f"{row['cold_compile_s']:.1f} s, "
              f"warm {row['warm_compile_s']:.1f} s; {row['compiled_ms']:.2f} ms/step compiled, "
              f"{row['eager_ms']:.2f} eager; {row['steps']} steps: pays back cold "
              f"{'yes' if row['pays_cold'] else 'NO'} ({time.perf_counter() - t_start:.0f} s "
              f"so far)", flush=True)
    print_table(rows, args.preset)
    print_experiments(rows, args.preset)
    print(f"\n(measured in {time.perf_counter() - t_start:.0f} s; under load compare the ratios: "
          f"compiled/eager per step and compile/saving)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
