"""Where the time goes: Snakemake's per-job benchmark files, collected into one table and figure.

Every rule writes `results/timing/{experiment}/{job}.tsv` (its `benchmark:` directive): wall
seconds `s`, `cpu_time` (seconds, all threads), `max_rss` (MB), ... One row per job here.
"""
from mnist1d._extras import require
require("pandas", extra="pipeline", by=__name__)

import base64
import json
import os
import re
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


def covered_seconds(intervals):
    """Seconds covered by the union of (start, end) intervals."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def gating_chain(table, slack=1.0):
    """The jobs that held up the run's end, last first: from the job that ended last, step back
    each time to the job that ended last before it started (within `slack` seconds). Without
    the DAG this is a reading of the timeline, not the DAG's critical path: a job may have waited
    for a core rather than for that input. Returns row labels of `table`."""
    if table.empty:
        return []
    chain = [table["end"].idxmax()]
    while True:
        start = table.at[chain[-1], "start"]
        before = table[(table["end"] <= start + slack) & ~table.index.isin(chain)]
        if before.empty:
            return chain
        chain.append(before["end"].idxmax())


def records(metadata_dir):
    """Snakemake's record of every output file it made in this working directory: {path: record}.

    Snakemake keeps one JSON file per output under .snakemake/metadata/, named by the urlsafe
    base64 of the output's path; a record holds the job's rule, inputs, logs and job_hash (one
    hash for all outputs of one job)."""
    out = {}
    for f in Path(metadata_dir).glob("*") if Path(metadata_dir).is_dir() else ():
        try:
            path = base64.urlsafe_b64decode(f.name.encode() + b"==").decode()
            out[path] = json.loads(f.read_text())
        except (ValueError, UnicodeDecodeError, OSError):
            continue                  # not a record (e.g. a file of another Snakemake version)
    return out


def _pattern_regex(pattern):
    """A Snakemake path pattern ("results/logs/{a}_{b}.log") as a regex with one group per
    wildcard (a wildcard repeated must match the same text)."""
    out, seen, last = [], set(), 0
    for m in re.finditer(r"\{(\w+)\}", pattern):
        out.append(re.escape(pattern[last:m.start()]))
        name = m.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        last = m.end()
    out.append(re.escape(pattern[last:]))
    return re.compile("".join(out))


def benchmark_label(path):
    """(experiment, job) of a benchmark file results/.../timing/EXPERIMENT/JOB.tsv."""
    path = Path(path)
    return path.parent.name, path.stem


def dependencies(recorded, patterns):
    """{(experiment, job): {(experiment, job) of each job that made one of its inputs}}.

    recorded: `records`; patterns: [(log pattern, benchmark pattern)] of the rules, which name a
    job by its benchmark file from the wildcards of its log (the two share them)."""
    rules = [(_pattern_regex(log), bench) for log, bench in patterns]
    producer, inputs, label = {}, {}, {}
    for path, record in recorded.items():
        job = record.get("job_hash")
        if job is None:
            continue
        producer[path] = job
        inputs.setdefault(job, set()).update(record.get("input") or [])
        for log in record.get("log") or []:
            for regex, bench in rules:
                m = regex.fullmatch(log)
                if m:
                    label[job] = benchmark_label(bench.format(**m.groupdict()))
    return {label[job]: {label[producer[i]] for i in inputs.get(job, ())
                         if producer.get(i) in label and producer[i] != job}
            for job in label}


def critical_path(table, deps):
    """The chain of jobs, each after one of its inputs' jobs, whose wall times add up to the most:
    no number of cores makes the run shorter than its sum. Row labels of `table`, first to last."""
    index = {(e, j): i for i, e, j in zip(table.index, table["experiment"], table["job"])}
    wall = table["wall_s"].to_dict()
    best = {}

    def longest(key):                       # (seconds, path) of the heaviest chain ending at key
        if key not in best:
            before = [longest(d) for d in deps.get(key, ()) if d in index and d != key]
            seconds, path = max(before, default=(0.0, []))
            best[key] = (seconds + wall[index[key]], path + [index[key]])
        return best[key]

    return max((longest(key) for key in index), default=(0.0, []))[1]


def plot_timeline(table, deps=None, cores=None):
    """One bar per job over the run's wall time, coloured by experiment. Outlined in black: the
    critical path (`critical_path`) when the jobs' dependencies are given, else the gating chain.
    With `cores`, the title says how long the jobs' summed time takes on that many cores."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    jobs = table.sort_values("start", ignore_index=True)
    t0 = jobs["start"].min() if len(jobs) else 0.0
    experiments = sorted(jobs["experiment"].unique())
    cmap = plt.get_cmap("tab10" if len(experiments) <= 10 else "tab20")
    colors = {name: cmap(i % cmap.N) for i, name in enumerate(experiments)}
    chain = set(critical_path(jobs, deps) if deps else gating_chain(jobs))
    name = "critical path" if deps else "gating chain"
    fig, ax = plt.subplots(figsize=(10, 0.16 * len(jobs) + 1.6))
    for i, row in jobs.iterrows():
        on_chain = i in chain
        ax.barh(i, (row["end"] - row["start"]) / 60, left=(row["start"] - t0) / 60, height=0.8,
                color=colors[row["experiment"]], edgecolor="black" if on_chain else "none",
                linewidth=1.2 if on_chain else 0)
    ax.set_yticks(range(len(jobs)), [f"{e}/{j}" for e, j in zip(jobs["experiment"], jobs["job"])],
                  fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("minutes since the first job started")
    ax.grid(axis="x", alpha=0.3)
    handles = [Patch(color=colors[name], label=name) for name in experiments]
    handles.append(Patch(facecolor="white", edgecolor="black", label=name))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    chain_s = sum(jobs.at[i, "wall_s"] for i in chain) if deps else \
        covered_seconds([(jobs.at[i, "start"], jobs.at[i, "end"]) for i in chain])
    title = (f"Timeline of {len(jobs)} jobs: run span {run_span(jobs) / 60:.1f} min; {name} "
             f"(outlined): {len(chain)} jobs, {chain_s / 60:.1f} min")
    if cores:
        title += (f"\nthe jobs' summed time on {cores} core{'s' if cores != 1 else ''}: "
                  f"{jobs['wall_s'].sum() / cores / 60:.1f} min")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
