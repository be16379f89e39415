"""Where the time goes: Snakemake's per-job benchmark files, collected into one table and figure.

Every rule writes `results/timing/{experiment}/{job}.tsv` (its `benchmark:` directive): wall
seconds `s`, `cpu_time` (seconds, all threads), `max_rss` (MB), ... One row per job here.
"""
import os
from pathlib import Path

import pandas as pd

COLUMNS = ["experiment", "job", "wall_s", "cpu_s", "max_rss_mb", "start", "end"]


def read_benchmark(path):
    """One job's benchmark file as a dict: experiment and job from the path, times, memory.

    `end` is the file's modification time (Snakemake writes it when the job ends), `start` is
    end minus the wall time; together they give the span of a whole run.
    """
    path = Path(path)
    frame = pd.read_csv(path, sep="\t")
    if frame.empty or "s" not in frame:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no 's' column)")
    row = frame.iloc[-1]  # with `repeat(...)` Snakemake writes one line per repetition
    end = os.path.getmtime(path)
    return {
        "experiment": path.parent.name,
        "job": path.stem,
        "wall_s": float(row["s"]),
        "cpu_s": float(pd.to_numeric(row.get("cpu_time"), errors="coerce")),
        "max_rss_mb": float(pd.to_numeric(row.get("max_rss"), errors="coerce")),
        "start": end - float(row["s"]),
        "end": end,
    }


def collect(paths):
    """All jobs' benchmarks as a tidy table, longest first."""
    table = pd.DataFrame([read_benchmark(p) for p in paths], columns=COLUMNS)
    return table.sort_values(["experiment", "wall_s"], ascending=[True, False], ignore_index=True)


def per_experiment(table):
    """Summed job wall and CPU time, jobs and peak memory per experiment, plus the run's span.

    `span_s` is the time from the experiment's first job start to its last job end; jobs of an
    experiment that ran side by side make it shorter than `wall_s`.
    """
    grouped = table.groupby("experiment")
    out = pd.DataFrame({
        "jobs": grouped.size(),
        "wall_s": grouped["wall_s"].sum(),
        "cpu_s": grouped["cpu_s"].sum(),
        "max_rss_mb": grouped["max_rss_mb"].max(),
        "span_s": grouped["end"].max() - grouped["start"].min(),
    }).reset_index()
    return out.sort_values("wall_s", ascending=False, ignore_index=True)


def run_span(table):
    """Seconds from the first job's start to the last job's end (the run's elapsed time)."""
    return float(table["end"].max() - table["start"].min()) if len(table) else 0.0


def plot_timing(table):
    """Horizontal bars per experiment: summed job wall time and CPU time, in minutes."""
    import matplotlib.pyplot as plt

    summary = per_experiment(table).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(summary) + 1.4))
    y = range(len(summary))
    ax.barh([i + 0.2 for i in y], summary["wall_s"] / 60, height=0.4, label="wall time (jobs summed)")
    ax.barh([i - 0.2 for i in y], summary["cpu_s"] / 60, height=0.4, label="CPU time (all threads)",
            color="0.6")
    ax.set_yticks(list(y), summary["experiment"])
    ax.set_xlabel("minutes")
    total_wall, total_cpu = table["wall_s"].sum() / 60, table["cpu_s"].sum() / 60
    ax.set_title(f"Time per experiment: jobs {total_wall:.1f} min wall, {total_cpu:.1f} min CPU; "
                 f"run span {run_span(table) / 60:.1f} min")
    ax.legend(loc="lower right")
    return fig
