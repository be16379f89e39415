"""Cheap job start-up: a job that does not train imports neither torch nor numba nor sklearn.

torch alone costs a job about 1.5 s of CPU before it does anything, and about 25 of the jobs of
`all` (figures, tables, summaries, aggregation) never use it. For every workflow script this
runs the script's own `import` / `from` lines (read with ast, so the script itself does not run)
in a fresh interpreter in which an import hook refuses the heavy packages the script is not
allowed, and records who asked for them. The same for the package modules every job and
Snakemake's own process import (mnist1d, io, store, plotting, pipeline.*, and the experiment
modules whose protocol_from_config the rule files call).

A script that trains is listed in ALLOWED with what it may import; a new script is held to the
rule until it is listed. Measure the start-up with benchmarks/speed_startup.py.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
RULES = ROOT / "workflow" / "rules"
HEAVY = ("torch", "numba", "sklearn")
ALL = set(HEAVY)

# Scripts allowed to import some of HEAVY, and why. Every other script may import none of them.
ALLOWED = {
    # they train (torch)
    "benchmark_train": ALL, "dd_train": ALL, "pooling_train": ALL, "sweep_train": ALL,
    "ssl_train": ALL, "ssl_variant": ALL, "metalearn_lr": ALL, "metalearn_afunc": ALL,
    "metalearn_afunc_fit": ALL, "lottery_search_segment": ALL, "lottery_analysis_part": ALL,
    # the dataset generator compiles its inner loop with numba (mnist1d.generator_numba)
    "make_dataset": {"numba"},
    # scikit-learn's kNN and logistic regression; openTSNE imports scikit-learn
    "tsne_baselines": {"sklearn"}, "tsne_figure": {"sklearn"}, "ssl_figure": {"sklearn"},
}

# Package modules that must import without any of HEAVY: what every job imports, and the
# experiment modules the rule files import in Snakemake's own process.
LIGHT_MODULES = [
    "mnist1d", "mnist1d.io", "mnist1d.store", "mnist1d.plotting", "mnist1d.specs",
    "mnist1d.data", "mnist1d.utils", "mnist1d.experiments.published",
    "mnist1d.experiments.seed_chunks",
    "mnist1d.pipeline.checks", "mnist1d.pipeline.config", "mnist1d.pipeline.device",
    "mnist1d.pipeline.jobs", "mnist1d.pipeline.logs", "mnist1d.pipeline.timing",
    "mnist1d.pipeline.script",
    "mnist1d.experiments.benchmark", "mnist1d.experiments.double_descent",
    "mnist1d.experiments.pooling", "mnist1d.experiments.sweeps", "mnist1d.experiments.ssl",
    "mnist1d.experiments.tsne", "mnist1d.experiments.human",
    "mnist1d.experiments.paper_comparison", "mnist1d.experiments.sensitivity",
    "mnist1d.experiments.afunc_fit", "mnist1d.experiments.metalearn_afunc",
    "mnist1d.experiments.metalearn_lr", "mnist1d.experiments.metalearn_common",
    "mnist1d.experiments.lottery",
]
# Modules that are torch (or numba) by nature; a rule file must not import them.
HEAVY_MODULES = {"mnist1d.models", "mnist1d.train", "mnist1d.dataset", "mnist1d.generator_numba",
                 "mnist1d.experiments.afunc_kernels"}

# The child: an import hook that refuses (and records) every HEAVY package not allowed, then
# each job's import lines in turn. A refused import raises ImportError in the importer, so a
# module that failed is not cached and the next job that needs it is caught too.
CHILD = r"""
import importlib.abc, json, os, sys
heavy, jobs, root = json.loads(sys.argv[1])
state = {"job": None, "allowed": ()}
hits = []

def asker():
    # the innermost frame outside importlib: who asked for the import
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith("<frozen") and "importlib" not in name:
            return f"{os.path.relpath(name, root) if name.startswith(root) else name}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        top = fullname.partition(".")[0]
        if top in heavy and top not in state["allowed"]:
            hits.append([state["job"], fullname, asker()])
            raise ImportError(f"{fullname}: refused by tests/test_startup.py")
        return None

sys.meta_path.insert(0, Refuse())
for job, code, allowed in jobs:
    state.update(job=job, allowed=tuple(allowed))
    try:
        exec(compile(code, job, "exec"), {"__name__": "startup_check"})
    except ImportError as err:
        if not any(h[0] == job for h in hits):
            hits.append([job, "ImportError", str(err)])
print(json.dumps(hits))
"""


def import_lines(path):
    """The module-level import statements of a script, as source."""
    tree = ast.parse(Path(path).read_text(), str(path))
    return "\n".join(ast.unparse(node) for node in tree.body
                     if isinstance(node, (ast.Import, ast.ImportFrom)))


def run_jobs(jobs):
    """Run [(name, code, allowed)] in fresh interpreters (one per distinct `allowed`, so that an
    allowed package loaded by one job cannot hide it from a job not allowed it); the hits."""
    groups = {}
    for name, code, allowed in jobs:
        groups.setdefault(tuple(sorted(allowed)), []).append([name, code, list(allowed)])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    hits = []
    for group in groups.values():
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps([HEAVY, group, str(ROOT)])],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        hits += json.loads(out.stdout.strip().splitlines()[-1])
    return hits


def script_jobs():
    return [(path.stem, import_lines(path), ALLOWED.get(path.stem, set()))
            for path in sorted(SCRIPTS.glob("*.py")) if ALLOWED.get(path.stem) != ALL]


def test_allowed_names_real_scripts():
    missing = sorted(set(ALLOWED) - {p.stem for p in SCRIPTS.glob("*.py")})
    assert not missing, f"ALLOWED lists scripts that do not exist: {missing}"


def test_jobs_that_do_not_train_start_without_torch_numba_sklearn():
    jobs = script_jobs()
    assert len(jobs) >= 20                      # the figure, table and aggregation scripts
    jobs += [(f"import {m}", f"import {m}", set()) for m in LIGHT_MODULES]
    # the check must be able to fail: a job that imports torch is caught
    jobs.append(("canary", "import mnist1d.models", set()))
    hits = run_jobs(jobs)
    assert ["canary", "torch"] in [h[:2] for h in hits], hits
    bad = [h for h in hits if h[0] != "canary"]
    assert not bad, ("imports of packages the job does not need (job, module, asked by):\n"
                     + "\n".join(" ".join(h) for h in bad)
                     + "\nimport them inside the functions that train"
                     " (see docs/package.md, Layout of the package)")


@pytest.mark.parametrize("rules", sorted(RULES.glob("*.smk")), ids=lambda p: p.name)
def test_rule_files_import_only_light_modules(rules):
    """Snakemake's own process imports what the rule files import: no torch there."""
    imported = set()
    for line in rules.read_text().splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("import", "from") and words[1].startswith("mnist1d"):
            imported.add(words[1])
    heavy = imported & HEAVY_MODULES
    assert not heavy, f"{rules.name} imports {sorted(heavy)} (torch) in Snakemake's process"
    unknown = imported - set(LIGHT_MODULES) - HEAVY_MODULES - {"mnist1d.pipeline"}
    assert not unknown, (f"{rules.name} imports {sorted(unknown)}: add it to LIGHT_MODULES "
                         "(test_startup.py) so that its imports are checked")


RUNTIME = r"""
import sys
import numpy as np
from mnist1d import specs
from mnist1d.experiments import afunc_fit, double_descent, metalearn_afunc, pooling
assert [specs.count_parameters(m) for m in ("logistic", "mlp", "cnn", "gru")] == [410, 15210, 5210, 5134]
assert double_descent.n_parameters("mlp", 10) == 40 * 10 + 10 + 100 + 10 + 100 + 10
fit = afunc_fit.PiecewiseLinear([0.0], [0.0, 1.0], [0.0, 0.0])
assert np.allclose(fit(np.array([-1.0, 2.0])), [0.0, 2.0])
for name in metalearn_afunc.BASELINES:
    metalearn_afunc.baseline_curve(name, np.linspace(-5, 5, 11))
pooling.spec_of("max")
print(sorted(m for m in ("torch", "numba", "sklearn") if m in sys.modules))
"""


def test_what_the_figure_and_table_jobs_call_runs_without_torch():
    """Not only the imports: the parameter counts of the summaries, the activation fit and the
    baseline curves of the figures run without loading torch."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    out = subprocess.run([sys.executable, "-c", RUNTIME], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-1] == "[]", out.stdout
