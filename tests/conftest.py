"""pytest's hooks and the fixtures shared by test files; plain helpers are in helpers.py."""
from pathlib import Path

import numpy as np
import pytest

from helpers import PIPELINE_TESTS, REFERENCE_PKL, SMOKE_ALL, run_snakemake


def pytest_collection_modifyitems(config, items):
    """Every test under tests/pipeline/ runs Snakemake: marked `pipeline`, so that
    `pytest -m "not pipeline"` runs the unit tests alone."""
    for item in items:
        if PIPELINE_TESTS in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.pipeline)


@pytest.fixture(scope="session")
def frozen():
    """The frozen MNIST-1D dataset (tests/data/mnist1d_data.pkl), loaded once for the session.
    Tests read it and must not change it: after the session it is compared with the file."""
    from mnist1d.utils import from_pickle
    data = from_pickle(REFERENCE_PKL)
    yield data
    unchanged(data, from_pickle(REFERENCE_PKL), "frozen")


def unchanged(value, fresh, where):
    """Fail when `value` (a dict of arrays, nested) differs from `fresh` (the same, as loaded)."""
    if isinstance(fresh, dict):
        assert isinstance(value, dict) and sorted(value) == sorted(fresh), \
            f"a test changed the keys of {where}"
        for key in fresh:
            unchanged(value[key], fresh[key], f"{where}[{key!r}]")
    else:
        np.testing.assert_array_equal(value, fresh, err_msg=f"a test changed {where}")


@pytest.fixture
def one_thread():
    """One torch thread for the test (float32 trajectories depend on the thread count)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One smoke-preset `snakemake --cores 2 all`, shared by the tests that read its outputs."""
    workdir = tmp_path_factory.mktemp("smoke")
    run_snakemake(workdir, "all", *SMOKE_ALL)
    return workdir
