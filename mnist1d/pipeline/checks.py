"""Checks the workflow makes before it schedules any job (workflow/rules/common.smk).

Snakemake deletes a job's old outputs before it runs the job again. When an input that many jobs
read is damaged (a truncated dataset after a full disk or a killed copy, a garbage MNIST file),
every job that reads it would be rerun, lose its finished outputs, then fail. These checks stop the
run first, naming the file and what to do, so that nothing finished is lost.
"""
import glob
import os

from mnist1d import store
from mnist1d.pipeline.config import read_recorded_config

# Where the workflow keeps datasets, relative to the results folder (workflow/rules/data.smk and
# double_descent.smk).
DATASET_GLOBS = ("data/*.npz", "double_descent/data/*.npz")


def check_results_dir(results_dir, config):
    """Refuse to write into a folder whose recorded configuration (results_dir/config.yaml,
    written by `all`) is of another preset: that would replace its results with this run's."""
    path = os.path.join(results_dir, "config.yaml")
    recorded = read_recorded_config(path)
    if recorded is None:
        return
    before, now = recorded.get("preset"), config.get("preset")
    if before is not None and before != now:
        raise ValueError(
            f"{results_dir} holds the results of preset {before!r} ({path}), and this run is "
            f"preset {now!r}: it would replace them. Give this run its own folder with "
            f"--config results_dir=FOLDER (by default each preset has its own: results/ for paper, "
            f"results/PRESET/ for the others), or delete {results_dir} first.")


def check_inputs(results_dir, config):
    """Every stored dataset under results_dir matches its checksum, and `tsne.mnist_path`, when
    set, is a readable MNIST file. Raises ValueError naming the path and what to do."""
    for pattern in DATASET_GLOBS:
        for path in sorted(glob.glob(os.path.join(results_dir, pattern))):
            try:
                store.verify_dataset(path)
            except Exception as err:                      # every way a file can be unreadable
                raise ValueError(
                    f"{path} is damaged ({err}). Nothing was run and no result was deleted: "
                    f"delete {path} (the workflow makes it again from the config) and rerun."
                ) from None
    mnist_path = (config.get("tsne") or {}).get("mnist_path")
    if mnist_path:
        from mnist1d.experiments.tsne import load_mnist

        try:
            load_mnist(mnist_path, n=10)
        except Exception as err:
            raise ValueError(
                f"config key 'tsne.mnist_path': {mnist_path} is not a readable MNIST file "
                f"({err}). Nothing was run: point the key to an .npz file with x_train/y_train, "
                f"x/y or images/labels, or remove it.") from None


def check_models(config):
    """Every entry of the config's `models:` section imports, builds and maps a (2, input_size)
    batch to (2, 10) logits, for the input length of every dataset the benchmark or a sweep
    trains it on;
    every name in `benchmark.models` is a paper model or an entry of `models:`. Raises
    ValueError naming the key (models.NAME.class / models.NAME.kwargs / benchmark.models)."""
    from mnist1d import specs
    from mnist1d.data import sequence_length

    datasets = config.get("datasets") or {}
    custom = config.get("models") or {}
    for name in custom:
        if name in specs.DEFAULTS:
            raise ValueError(f"config key 'models.{name}': {name!r} is the name of a paper model; "
                             f"give your model another name")
    bench = config.get("benchmark") or {}
    for name in bench.get("models", []):
        if name not in specs.PAPER_PARAMETERS and name not in custom:
            raise ValueError(f"config key 'benchmark.models': {name!r} is neither a paper model "
                             f"(logistic, mlp, cnn, gru) nor an entry of 'models' "
                             f"({sorted(custom) or 'none'})")
    lengths = {sequence_length(datasets[d]) for d in (bench.get("variants") or {}).values()
               if d in datasets} or {sequence_length(datasets.get("default"))}
    lengths_of = {name: set(lengths) for name in custom}
    if config.get("sweeps"):          # and every input length a sweep trains the model on
        from mnist1d.experiments import sweeps
        for sweep in sweeps.names(config):
            for name in set(sweeps.settings(config, sweep)["models"]) & set(custom):
                lengths_of[name] |= {sequence_length(sweeps.dataset_args(config, sweep, text))
                                     for text in sweeps.value_texts(config, sweep)}
    if custom:                        # building a user's module needs torch; the rest does not
        from mnist1d import models
    for name in custom:
        for length in sorted(lengths_of[name]):
            models.check_module(specs.spec_for(name, custom, input_size=length),
                                key=f"models.{name}")
