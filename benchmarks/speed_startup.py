"""The start-up of one job: what a workflow script costs before it does any work.

    PYTHONPATH=. python benchmarks/speed_startup.py [--repeat 5] [--scripts NAME ...]
        [--root DIR] [--no-preamble] [--snakemake]

Snakemake runs every job of a `script:` rule in a fresh Python interpreter: its preamble
(`from snakemake.logging import logger`, `from snakemake.iocontainers import Snakemake`, the
unpickled job object) and then the script, whose first lines import the package. For every
script of workflow/scripts this runs, in a fresh interpreter, the preamble's imports and the
script's own `import` / `from` lines (read with ast: the script itself does not run) and, in
a training script, its first call, device.set_threads (which imports torch), `--repeat` times, and prints the median wall and CPU seconds (user + system of the child) and which of
torch / numba / sklearn the imports loaded. The first rows are the floor: the bare interpreter
and the preamble alone.

`--root DIR` measures another checkout (its scripts, its package: PYTHONPATH=DIR), e.g. the
commit before the start-up change, made with `git worktree add /tmp/before COMMIT`:
that gives "a figure job starts in X s (was Y s)". `--snakemake` also times Snakemake's own
start-up, `snakemake --list-rules` in DIR (parsing the Snakefile and the rule files, which import
the experiment modules for protocol_from_config).
Numbers from a loaded machine are noisy; the medians of an idle one are the ones to quote.
"""
import argparse
import ast
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PREAMBLE = ("import pickle\nfrom snakemake.logging import logger\n"
            "from snakemake.iocontainers import Snakemake\n")
HEAVY = ("torch", "numba", "sklearn")
REPORT = "\nimport json as _j, sys as _s\nprint(_j.dumps([m for m in {heavy!r} if m in _s.modules]))\n"


def import_lines(path):
    """The module-level import statements of a script, as source."""
    tree = ast.parse(Path(path).read_text(), str(path))
    return "\n".join(ast.unparse(node) for node in tree.body
                     if isinstance(node, (ast.Import, ast.ImportFrom)))


def trains(path):
    """Whether a script trains: it trains inside device.job_device."""
    return "job_device" in Path(path).read_text()


def startup_code(path):
    """What a job runs before its work: its imports and device.set_threads where it calls it
    (first, in every training script; it imports torch unless given torch_threads=False)."""
    code, text = import_lines(path), Path(path).read_text()
    if "set_threads(" in text:
        call = "1, torch_threads=False" if "torch_threads=False" in text else "1"
        code += f"\nfrom mnist1d.pipeline.device import set_threads as _st\n_st({call})"
    return code


def run_once(cmd, root):
    """(wall s, CPU s of the child, its stdout) of one fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=str(root))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}... failed:\n{out.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def measure(code, root, repeat):
    """Median wall and CPU seconds of `python -c code`, and the heavy modules it loaded."""
    runs = [run_once([sys.executable, "-c", code + REPORT.format(heavy=HEAVY)], root)
            for _ in range(repeat)]
    loaded = json.loads(runs[-1][2].strip().splitlines()[-1])
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), loaded)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="fresh interpreters per row (median)")
    ap.add_argument("--scripts", nargs="*", help="script names (default: every one)")
    ap.add_argument("--root", type=Path, default=REPO, help="the checkout to measure")
    ap.add_argument("--no-preamble", action="store_true", help="without Snakemake's preamble")
    ap.add_argument("--snakemake", action="store_true",
                    help="also time `snakemake --list-rules` (Snakemake's own start-up)")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    root = args.root.resolve()
    scripts = sorted((root / "workflow" / "scripts").glob("*.py"))
    if args.scripts:
        unknown = set(args.scripts) - {p.stem for p in scripts}
        if unknown:
            ap.error(f"--scripts: no such script {sorted(unknown)} in {root}/workflow/scripts")
        scripts = [p for p in scripts if p.stem in args.scripts]
    preamble = "" if args.no_preamble else PREAMBLE

    print(f"job start-up in {root} (python {sys.version.split()[0]}, median of {args.repeat}, "
          f"{'with' if preamble else 'without'} Snakemake's preamble)")
    print(f"{'job':<24} {'wall s':>7} {'CPU s':>7}  {'':<7} loads")
    rows = [("(python alone)", "pass")]
    if preamble:
        rows.append(("(preamble alone)", preamble))
    rows += [(p.stem, preamble + startup_code(p), trains(p)) for p in scripts]
    groups = {False: [], True: []}
    for name, code, *training in rows:            # the floor rows have no `training`
        wall, cpu, loaded = measure(code, root, args.repeat)
        kind = "trains" if training and training[0] else ""
        print(f"{name:<24} {wall:7.2f} {cpu:7.2f}  {kind:<7} {', '.join(loaded) or '-'}",
              flush=True)
        if training:
            groups[training[0]].append((wall, cpu))
    for label, group in (("that do not train (figures, tables, ...)", groups[False]),
                         ("that train", groups[True])):
        if group:
            print(f"median of the {len(group)} jobs {label}: "
                  f"{statistics.median(w for w, _ in group):.2f} s wall, "
                  f"{statistics.median(c for _, c in group):.2f} s CPU")
    if args.snakemake:
        exe = Path(sys.executable).with_name("snakemake")
        cmd = [str(exe) if exe.exists() else "snakemake", "--list-rules", "--cores", "1"]
        runs = [run_once(cmd, root) for _ in range(args.repeat)]
        print(f"snakemake --list-rules (parse the workflow): "
              f"{statistics.median(r[0] for r in runs):.2f} s wall, "
              f"{statistics.median(r[1] for r in runs):.2f} s CPU")


if __name__ == "__main__":
    main()
