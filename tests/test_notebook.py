"""examples/quickstart.ipynb runs top to bottom, and is committed without outputs."""
import os
import shutil
import time

import pandas as pd
import pytest

from helpers import REPO
from mnist1d.experiments import benchmark

nbformat = pytest.importorskip("nbformat")   # with nbclient and ipykernel: the test extra

NOTEBOOK = REPO / "examples" / "quickstart.ipynb"
CELL_TIMEOUT = 300   # seconds per cell; the whole notebook takes well under a minute
TOTAL_TIMEOUT = 600


def test_the_committed_notebook_has_no_outputs():
    """Outputs (and execution counts) are stripped before committing: clear them in Jupyter
    (Edit > Clear Outputs of All Cells) or with `jupyter nbconvert --clear-output --inplace`."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"cells {dirty} of {NOTEBOOK.name} have outputs or an execution count"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


def fake_clone(root):
    """A clone's layout for the notebook: the Snakefile, the notebook in examples/, and a
    benchmark table under results/ made by the pipeline's own summary function."""
    (root / "examples").mkdir(parents=True)
    (root / "mnist1d").mkdir()
    (root / "Snakefile").write_text("")
    shutil.copy(NOTEBOOK, root / "examples" / NOTEBOOK.name)
    history = pd.DataFrame([{"model": model, "variant": variant, "seed": seed, "step": step,
                             "train_loss": 1.0, "test_loss": 1.2, "train_acc": 50.0 + seed,
                             "test_acc": 40.0 + seed, "batch_loss": 1.0}
                            for model in ("mlp", "cnn") for variant in ("normal", "shuffled")
                            for seed in (0, 1) for step in (0, 10)])
    (root / "results" / "benchmark").mkdir(parents=True)
    benchmark.summarise(history).to_csv(root / "results" / "benchmark" / "benchmark.csv",
                                        index=False)
    (root / "results" / "quick").mkdir()   # another preset's folder: not an experiment
    (root / "results" / "quick" / "config.yaml").write_text("preset: quick\n")
    (root / "results" / "quick" / "timing.csv").write_text("a\n1\n")


def test_the_notebook_runs_from_examples(tmp_path):
    """Run in a copy, started from examples/ of a clone that has a benchmark table, with this
    repository's package on the kernel's path."""
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    root = tmp_path / "clone"
    fake_clone(root)
    nb = nbformat.read(root / "examples" / NOTEBOOK.name, as_version=4)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(root / "examples")}})
    start = time.perf_counter()
    client.execute(env=env)          # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - start
    print(f"the notebook ran in {seconds:.1f} s")
    assert seconds < TOTAL_TIMEOUT

    text = "\n".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                     for cell in nb.cells if cell.cell_type == "code"
                     for output in cell.outputs)
    assert f"repository: {root}" in text                 # found from examples/
    assert "test accuracy" in text
    assert "benchmark.csv does not exist" not in text    # the clone's table was read
    assert "experiments with tables: ['benchmark']" in text
    images = [output for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs
              if "image/png" in output.get("data", {})]
    assert len(images) >= 2                               # the examples and the training curves
