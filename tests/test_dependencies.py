"""The installed package's main dependencies cover what the README's commands need."""
import importlib.metadata
import re

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_closure(distribution, extras=()):
    """Every distribution name reached from `distribution` with `extras`, following the extras
    that each requirement names (snakemake[reports]) and evaluating markers for this Python.
    Requirements of distributions that are not installed are counted but not followed."""
    seen, todo = set(), [(distribution, frozenset(extras))]
    visited = set()
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
            if requirement.marker is not None:
                # a requirement applies without an extra, or with one of the wanted extras
                active = [""] + sorted(wanted)
                if not any(requirement.marker.evaluate(dict(default_environment(), extra=extra))
                           for extra in active):
                    continue
            todo.append((requirement.name, frozenset(requirement.extras)))
    return seen


def test_closure_follows_extras_and_drops_unselected_ones():
    closure = requirement_closure("mnist1d")
    assert "snakemake" in closure and "numpy" in closure
    assert "pytest" not in closure                                # only the test extra has it
    assert "pytest" in requirement_closure("mnist1d", extras={"test"})


@pytest.mark.parametrize("needed", ["pygments", "jinja2", "docutils"])
def test_main_dependencies_cover_snakemake_report(needed):
    """`snakemake --report results/report.html` (README) imports pygments (snakemake's `reports`
    extra), jinja2 and docutils: a plain `pip install -e .` must bring them, not the test extra."""
    assert needed in requirement_closure("mnist1d"), (
        f"{needed} is not among mnist1d's main dependencies (followed through their extras); "
        f"snakemake --report needs it: depend on snakemake[reports]")
