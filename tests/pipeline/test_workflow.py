"""End to end: the smoke preset's `all` makes every output, each non-empty."""
from helpers import SMOKE, dag_outputs, run_snakemake


def test_smoke_all_makes_every_output(smoke_run):
    outputs = dag_outputs(smoke_run)
    assert any(o == f"{SMOKE}/examples.png" for o in outputs)
    missing = [o for o in outputs if not (smoke_run / o).exists()]
    empty = [o for o in outputs if (smoke_run / o).exists() and (smoke_run / o).stat().st_size == 0]
    assert not missing, f"missing outputs: {missing}"
    assert not empty, f"empty outputs: {empty}"


def test_nothing_left_to_do_after_all(smoke_run):
    proc = run_snakemake(smoke_run, "all", "-n", "--config", "preset=smoke")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_pipeline_default_dataset_is_the_frozen_paper_data(smoke_run):
    import numpy as np
    from helpers import REFERENCE_PKL
    from mnist1d.store import load_dataset
    made, frozen = load_dataset(smoke_run / SMOKE / "data/default.npz"), load_dataset(REFERENCE_PKL)
    np.testing.assert_array_equal(made["y"], frozen["y"])
    np.testing.assert_allclose(made["x"], frozen["x"], rtol=0, atol=1e-12)
