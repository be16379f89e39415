"""Subnormal floats: one lottery-analysis job's steps with and without flushing them to zero.

    PYTHONPATH=. python benchmarks/speed_denormals.py [--steps 1500] [--block 300] [--no-compile]

A pipeline job on the CPU computes with subnormal floats flushed to zero
(mnist1d.pipeline.device.flush_denormals, entered by job_device). This trains the five networks
of one lottery-analysis job (the paper protocol of config.yaml: trial 42's networks of one kind,
its five conditions as one ensemble, MLP 40-500-500-10, batch 500, Adam, one thread, compiled as
the paper preset compiles it) for --steps steps, once with subnormals kept (IEEE arithmetic) and
once flushed, each in a fresh interpreter, and prints the milliseconds per step of every block of
--block steps (evaluations left out) and whether the final weights of the two runs are equal bit
for bit. The networks reach 100 % training accuracy within about 500 steps; from then on their
gradients and Adam's moment estimates fill with subnormal values. Run it on an idle machine.
"""
import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from speed_under_load import preset_config

REPO = Path(__file__).resolve().parent.parent


def child(args):
    import torch

    from mnist1d import specs, train
    from mnist1d.data import get_dataset_args, make_dataset
    from mnist1d.experiments import lottery
    from mnist1d.pipeline import device
    from mnist1d.utils import ObjectView

    device.set_threads(1)
    config = json.loads(args.config)
    section = config["lottery"]["analysis"]
    data_args = get_dataset_args(as_dict=True) | dict(config["datasets"][section["dataset"]] or {})
    data = make_dataset(ObjectView(data_args))
    p = lottery.protocol_from_config(config, "analysis")
    trials = p["trials"]
    seeds = lottery.analysis_seeds(trials, p["init"], p["init_seed"], p["reinit_seed"])
    members = [m for m in lottery.analysis_members(trials) if (m[0], m[2]) == (trials[0], "dense")]
    stacked, params, masks = lottery.analysis_setup(
        data, None, 0, p["hidden"], members, seeds, p["shuffle_seed"], p["chunk_order"],
        shuffle=p["shuffle"])
    engine = specs.protocol_of(dict(p["engine"], steps=args.steps))
    tensors = train.as_tensors(stacked, "cpu", torch.float32)
    spec = lottery.spec_of(p["hidden"])
    state = train.init_state(params, engine)
    step_fn = train.make_step(spec, engine, masks, p["compile"] and not args.no_compile)
    batches = train.Batches(tensors["x"], tensors["y"], engine, list(range(len(members))))
    blocks = []
    with device.flush_denormals() if args.flush else contextlib.nullcontext():
        step_fn(params, state, *batches(0))            # the compile, not timed
        t0 = time.perf_counter()
        for step in range(1, args.steps + 1):
            step_fn(params, state, *batches(step))
            if step % args.block == 0:
                blocks.append(1e3 * (time.perf_counter() - t0) / args.block)
                t0 = time.perf_counter()
    digest = hashlib.sha256()
    for name in sorted(params):
        digest.update(params[name].numpy().tobytes())
    print(json.dumps({"blocks": blocks, "digest": digest.hexdigest()}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--block", type=int, default=300)
    parser.add_argument("--no-compile", action="store_true", help="eager steps")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flush", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < args.block or args.block < 1:
        parser.error(f"--steps {args.steps} must be at least --block {args.block} (>= 1)")
    if args.child:
        return child(args)

    config = json.dumps(preset_config("paper"), default=list)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    out = {}
    for flush in (False, True):
        cmd = [sys.executable, __file__, "--child", "--config", config, "--steps", str(args.steps),
               "--block", str(args.block)] + (["--flush"] if flush else []) + (
               ["--no-compile"] if args.no_compile else [])
        run = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"the {'flushed' if flush else 'IEEE'} run failed:\n{run.stderr[-3000:]}")
        out[flush] = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"lottery analysis job (trial's dense networks, K = 5, batch 500, 1 thread"
          f"{', eager' if args.no_compile else ', compiled'}), ms per step per block of "
          f"{args.block} steps:")
    print(f"{'steps':>12} {'subnormals kept':>16} {'flushed':>8}")
    for i, (kept, flushed) in enumerate(zip(out[False]["blocks"], out[True]["blocks"])):
        print(f"{i * args.block + 1:>5}-{(i + 1) * args.block:<6} {kept:>16.1f} {flushed:>8.1f}")
    same = out[False]["digest"] == out[True]["digest"]
    print(f"final weights after {args.steps} steps bit for bit equal: {'yes' if same else 'no'}")


if __name__ == "__main__":
    main()
