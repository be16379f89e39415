"""Install only what you use: what each part of the package imports, and what each install brings.

`pip install mnist1d` (the core) is the dataset API and its light dependencies; the extras add
PyTorch (`torch`), the Snakemake workflow (`pipeline`), SLURM (`slurm`) and the tests (`test`).
Offline checks here, from pyproject.toml and the installed distributions' metadata (no pip):

* the dependency closure of the core holds no torch, pandas, Snakemake, scikit-learn, PyYAML;
* the closure of each install covers what its modules, scripts and rule files import;
* with the heavy packages made unimportable, the dataset API imports and makes a dataset, and a
  module that needs an extra says which one to install.

.ci/install-check does the same with real fresh installs of the built wheel.
"""
import ast
import fnmatch
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:   # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
HEAVY = ("torch", "pandas", "snakemake", "scikit-learn", "pyyaml", "opentsne")

# Which install a file of the repository is used with; a file of mnist1d/ not named here belongs
# to the pipeline (the experiments, the workflow's plumbing).
CORE_MODULES = ["__init__", "_extras", "data", "transform", "utils", "store", "io",
                "generator_numba", "plotting"]
TORCH_MODULES = ["models", "train", "dataset", "specs"]


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def project_requirements(extras=()):
    """mnist1d's own requirements from pyproject.toml: the core's, plus those of `extras`, with
    the extras that name mnist1d itself (`mnist1d[torch]`) expanded."""
    requirements, todo, done = list(PROJECT["dependencies"]), list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in done:
            continue
        done.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if normalise(requirement.name) == "mnist1d":
                todo += sorted(requirement.extras)
            else:
                requirements.append(text)
    return [Requirement(text) for text in requirements]


def requirement_closure(requirements):
    """Every distribution reached from `requirements`, following each installed distribution's
    requirements (importlib.metadata): those without a marker or whose marker holds for this
    Python, and those of an extra only where the requirement asks for it (snakemake[reports]).
    A distribution that is not installed is counted but not followed."""
    seen, visited = set(), set()
    todo = [(requirement.name, frozenset(requirement.extras)) for requirement in requirements
            if requirement.marker is None or requirement.marker.evaluate()]
    while todo:
        name, wanted = todo.pop()
        if (normalise(name), wanted) in visited:
            continue
        visited.add((normalise(name), wanted))
        seen.add(normalise(name))
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is not None and not any(
                    requirement.marker.evaluate(dict(default_environment(), extra=extra))
                    for extra in [""] + sorted(wanted)):
                continue
            todo.append((requirement.name, frozenset(requirement.extras)))
    return seen


def closure(*extras):
    return requirement_closure(project_requirements(extras))


# ---------------------------------------------------------------------------------------------
# pyproject.toml

def test_core_closure_has_nothing_heavy():
    core = closure()
    assert {"numpy", "scipy", "matplotlib", "numba"} <= core
    heavy = sorted(core & set(HEAVY))
    assert not heavy, (f"pip install mnist1d brings {heavy}: the core is the dataset API only; "
                       "move them to an extra in pyproject.toml")


def test_extras_are_the_documented_ones_and_build_on_each_other():
    assert set(PROJECT["optional-dependencies"]) == {"torch", "pipeline", "slurm", "test"}
    assert {"torch", "pandas"} <= closure("torch") and "snakemake" not in closure("torch")
    assert closure("torch") <= closure("pipeline")
    assert {"snakemake-executor-plugin-slurm"} <= closure("slurm")
    assert closure("pipeline") | closure("slurm") <= closure("test")
    assert "pytest" in closure("test") and "pytest" not in closure("pipeline")


def test_no_pinned_versions():
    """A library states ranges; the README and .ci/run pin torch's CPU build where they install."""
    texts = PROJECT["dependencies"] + sum(PROJECT["optional-dependencies"].values(), [])
    pinned = [text for text in texts if "==" in text or "===" in text]
    assert not pinned, f"pinned requirements in pyproject.toml: {pinned}"
    assert any(text.replace(" ", "").startswith("torch>=") for text in texts)


@pytest.mark.parametrize("needed", ["pygments", "jinja2", "docutils"])
def test_pipeline_covers_snakemake_report(needed):
    """`snakemake --report results/report.html` (README) imports pygments (snakemake's `reports`
    extra), jinja2 and docutils: the pipeline extra brings them, not only the test extra."""
    assert needed in closure("pipeline"), (
        f"{needed} is not in the closure of mnist1d[pipeline]; snakemake --report needs it: "
        "depend on snakemake[reports]")


def test_slurm_extra_brings_the_profiles_executor():
    executor = re.search(r"^executor:\s*(\S+)", (ROOT / "profiles/slurm/config.yaml").read_text(),
                         re.MULTILINE).group(1)
    assert f"snakemake-executor-plugin-{executor}" in closure("slurm")


def test_package_data_covers_every_data_file():
    """Every file of mnist1d/ that is not Python is matched by [tool.setuptools.package-data]
    (the wheel's real contents: .ci/install-check)."""
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]
    data = [p for p in (ROOT / "mnist1d").rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")
            and "__pycache__" not in p.parts]
    assert data
    for path in data:
        covered = False
        for package, globs in patterns.items():
            folder = ROOT.joinpath(*package.split("."))
            if folder in path.parents:
                relative = path.relative_to(folder).as_posix()
                covered |= any(fnmatch.fnmatch(relative, glob) for glob in globs)
        assert covered, f"{path.relative_to(ROOT)} is not in pyproject's package-data: not installed"


# ---------------------------------------------------------------------------------------------
# What each part imports, against what its install brings

def imported_names(path):
    """The top-level names a file imports (anywhere in it, lazily in functions too), skipping
    relative imports and the imports of a `try: ... except ImportError` (and its fallback). A .smk file: its
    import lines."""
    if path.suffix == ".smk" or path.name == "Snakefile":
        source = "\n".join(line for line in path.read_text().splitlines()
                           if re.match(r"(import|from)\s", line))
    else:
        source = path.read_text()
    tree = ast.parse(source, str(path))
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(handler.type, ast.Name)
                and handler.type.id in ("ImportError", "ModuleNotFoundError")
                for handler in node.handlers):
            statements = node.body + [s for handler in node.handlers for s in handler.body]
            guarded |= {id(inner) for statement in statements for inner in ast.walk(statement)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.partition(".")[0])
    return names


def local_names():
    """Modules of this repository imported by plain name (tests, benchmarks, examples)."""
    names = {"mnist1d", "tests", "examples", "benchmarks", "workflow"}
    for folder in ("tests", "tests/pipeline", "benchmarks", "examples", "workflow/scripts"):
        names |= {p.stem for p in (ROOT / folder).glob("*.py")}
    return names


def files_of(part):
    package = ROOT / "mnist1d"
    if part == "core":
        return [package / f"{name}.py" for name in CORE_MODULES]
    if part == "torch":
        return [package / f"{name}.py" for name in TORCH_MODULES]
    if part == "pipeline":
        return (sorted(package.rglob("*.py")) + sorted((ROOT / "workflow").rglob("*.py"))
                + sorted((ROOT / "workflow/rules").glob("*.smk")) + [ROOT / "Snakefile"])
    return sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py")) \
        + sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("part, extras", [("core", ()), ("torch", ("torch",)),
                                          ("pipeline", ("pipeline",)), ("test", ("test",))])
def test_each_install_brings_what_its_files_import(part, extras):
    """Every third-party package that the files of `part` import is in the closure of the install
    that part needs (core: mnist1d's core modules; torch: models, train, dataset; pipeline: all
    of mnist1d, the workflow's scripts and rule files; test: the tests, benchmarks, examples)."""
    files = [path for path in files_of(part) if path.exists()]
    assert files
    providers = importlib.metadata.packages_distributions()
    available = closure(*extras)
    stdlib, local = set(sys.stdlib_module_names), local_names()
    problems = []
    for path in files:
        for name in sorted(imported_names(path) - stdlib - local):
            distributions = {normalise(d) for d in providers.get(name, [])}
            if not distributions:
                problems.append(f"{path.relative_to(ROOT)} imports {name}, which no installed "
                                "distribution provides")
            elif not distributions & available:
                problems.append(f"{path.relative_to(ROOT)} imports {name} ({sorted(distributions)}),"
                                f" not brought by pip install mnist1d{'[' + ','.join(extras) + ']' if extras else ''}")
    assert not problems, "\n".join(problems)


def test_pipeline_covers_its_named_packages():
    assert {"snakemake", "scikit-learn", "opentsne", "pyyaml", "pandas", "torch",
            "jsonschema"} <= closure("pipeline")


# ---------------------------------------------------------------------------------------------
# The dataset API without the heavy packages

CHILD = r"""
import importlib.abc, json, sys
BLOCKED = {"torch", "pandas", "snakemake", "sklearn", "yaml", "openTSNE"}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname.partition(".")[0] in BLOCKED:
            raise ImportError(f"No module named {fullname!r} (blocked by tests/test_dependencies.py)")
        return None

sys.meta_path.insert(0, Block())
import mnist1d
from mnist1d import data, io, store, transform, utils
from mnist1d.data import get_dataset_args, make_dataset
args = get_dataset_args()
args.num_samples = 200
d = make_dataset(args)
assert d["x"].shape == (160, 40) and d["x_test"].shape == (40, 40), (d["x"].shape, d["x_test"].shape)
result = {"loaded": sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED), "errors": {}}
for module in sys.argv[1:]:
    try:
        __import__(module)
    except ImportError as err:
        result["errors"][module] = str(err)
print(json.dumps(result))
"""

NEEDS = {"mnist1d.models": "torch", "mnist1d.train": "torch", "mnist1d.dataset": "torch",
         "mnist1d.experiments.double_descent": "pipeline", "mnist1d.experiments.tsne": "pipeline",
         "mnist1d.pipeline.config": "pipeline", "mnist1d.pipeline.timing": "pipeline",
         "mnist1d.experiments.published": "pipeline",
         "mnist1d.experiments.seed_chunks": "pipeline"}


def test_dataset_api_without_heavy_packages_and_what_the_rest_asks_for():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    out = subprocess.run([sys.executable, "-c", CHILD, *NEEDS], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded"] == [], result["loaded"]
    for module, extra in NEEDS.items():
        message = result["errors"].get(module)
        assert message is not None, f"{module} imported with torch, pandas, yaml ... blocked"
        assert f"pip install 'mnist1d[{extra}]'" in message and module.startswith(
            message.split(" needs ")[0]), f"{module}: {message}"


def test_require_names_the_missing_package_and_the_extra():
    from mnist1d._extras import require

    assert require("json", "re", extra="torch", by="x") is json
    with pytest.raises(ImportError, match=r"^mnist1d.models needs no_such_module_xyz: "
                                          r"pip install 'mnist1d\[torch\]'") as caught:
        require("json", "no_such_module_xyz", extra="torch", by="mnist1d.models")
    assert caught.value.name == "no_such_module_xyz"
