"""What every training script of workflow/scripts does after its job function returns.

A training script sets its threads, opens its log, loads its inputs, calls its experiment's job
function (mnist1d.experiments: one function per job kind) inside `device.job_device(...)`, and
writes what the function returns with `write_outputs`:

    outputs = benchmark.train_job(protocol, {"dataset": data}, device=where, logger=log)
    write_outputs(outputs, snakemake.output)

A job function returns its outputs keyed by the rule's output names; `write_outputs` writes each
to the path of the same name, atomically (mnist1d.io), and refuses a set of names that is not
the rule's own, so that a job function and its rule cannot drift apart unnoticed.
"""
import numpy as np
import pandas as pd

from mnist1d.io import atomic_path, write_csv, write_text


def write_output(value, path):
    """Write one output atomically: a DataFrame as CSV, a dict of arrays as .npz (np.savez, in
    the dict's order), a str as text, or any value with its own atomic `save(path)` (the
    lottery search's compressed mask store)."""
    if isinstance(value, pd.DataFrame):
        write_csv(value, path)
    elif isinstance(value, dict):
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **value)
    elif isinstance(value, str):
        write_text(value, path)
    elif callable(getattr(value, "save", None)):
        value.save(path)
    else:
        raise TypeError(f"{path}: cannot write a {type(value).__name__} (a DataFrame, a dict of "
                        f"arrays, a str or a value with a save(path) method)")


def write_outputs(outputs, paths):
    """Write every output of a job function ({name: value}) to `paths` (a rule's
    snakemake.output, or a dict: name -> path); the names must be the rule's outputs, every one
    of them named."""
    names = list(paths.keys())
    if set(outputs) != set(names) or len(names) != len(paths):
        raise ValueError(f"the job's outputs {sorted(outputs)} are not the rule's outputs "
                         f"{sorted(names)} (every output of the rule named, one file each)")
    for name, value in outputs.items():
        write_output(value, paths[name] if isinstance(paths, dict) else getattr(paths, name))


def job_name(snakemake):
    """The job as a reader finds it in Snakemake's output: its rule and wildcards, e.g.
    "dd_train (job=mlp_ce_g3)" (for messages such as a GPU lost under it)."""
    rule = getattr(snakemake, "rule", None) or "job"
    wildcards = getattr(snakemake, "wildcards", None)
    items = list(wildcards.items()) if hasattr(wildcards, "items") else []
    return f"{rule} ({', '.join(f'{k}={v}' for k, v in items)})" if items else rule
