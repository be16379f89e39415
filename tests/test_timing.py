"""Where the time goes: the per-job benchmark files collected, the timeline and its gating chain."""
import pandas as pd

from mnist1d.pipeline import timing


def test_timing_collects_benchmark_files(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for exp, job, s in (("pooling", "max", 30.0), ("pooling", "none", 10.0), ("data", "default", 2.0)):
        path = tmp_path / exp / f"{job}.tsv"
        path.parent.mkdir(exist_ok=True)
        path.write_text(header + f"{s}\t0:00:{int(s)}\t100\t1\t1\t1\t0\t0\t50\t{s / 2}\n")
    table = timing.collect(sorted(tmp_path.rglob("*.tsv")))
    assert list(table.job) == ["default", "max", "none"]
    per = timing.per_experiment(table).set_index("experiment")
    assert per.loc["pooling", "wall_s"] == 40.0 and per.loc["pooling", "cpu_s"] == 20.0
    assert per.loc["pooling", "jobs"] == 2


def test_gating_chain_steps_back_from_the_last_job():
    # a (0-10) then b (10-40) and, beside b, c (12-20); d (40-41) after b: the chain is d, b, a
    table = pd.DataFrame({"experiment": ["x"] * 4, "job": list("abcd"),
                          "start": [0.0, 10.0, 12.0, 40.0], "end": [10.0, 40.0, 20.0, 41.0]})
    table["wall_s"] = table["end"] - table["start"]
    assert [table.at[i, "job"] for i in timing.gating_chain(table)] == ["d", "b", "a"]
    assert timing.gating_chain(table.iloc[:0]) == []


def test_covered_seconds_counts_overlaps_once():
    assert timing.covered_seconds([(0, 10), (5, 12), (20, 21)]) == 13
    assert timing.covered_seconds([]) == 0


def test_timeline_draws_one_bar_per_job():
    table = pd.DataFrame({"experiment": ["x", "y", "y"], "job": list("abc"),
                          "start": [0.0, 5.0, 60.0], "end": [50.0, 60.0, 120.0]})
    table["wall_s"] = table["end"] - table["start"]
    fig = timing.plot_timeline(table)
    assert len(fig.axes[0].patches) == 3 and "3 jobs" in fig.axes[0].get_title()


def test_critical_path_follows_the_dag_from_snakemakes_records(tmp_path):
    """Jobs a -> b -> d and a -> c -> d with c longer than b: the critical path is a, c, d, found
    from Snakemake's metadata records (one per output, named by the base64 of its path) and the
    rules' log and benchmark patterns."""
    import base64
    import json

    meta = tmp_path / "metadata"
    meta.mkdir()
    jobs = {"a": ([], "r/x/a.csv"), "b": (["r/x/a.csv"], "r/x/b.csv"),
            "c": (["r/x/a.csv"], "r/y/c.csv"), "d": (["r/x/b.csv", "r/y/c.csv"], "r/z/d.csv")}
    for n, (name, (inputs, output)) in enumerate(jobs.items()):
        exp = output.split("/")[1]
        record = {"rule": f"rule_{exp}", "input": inputs, "log": [f"r/logs/{exp}/{name}.log"],
                  "job_hash": n}
        (meta / base64.urlsafe_b64encode(output.encode()).decode()).write_text(json.dumps(record))
    (meta / "not-a-record").write_text("{")
    patterns = [("r/logs/{exp}/{job}.log", "r/timing/{exp}/{job}.tsv")]
    deps = timing.dependencies(timing.records(meta), patterns)
    assert deps == {("x", "a"): set(), ("x", "b"): {("x", "a")}, ("y", "c"): {("x", "a")},
                    ("z", "d"): {("x", "b"), ("y", "c")}}
    table = pd.DataFrame({"experiment": ["x", "x", "y", "z"], "job": ["a", "b", "c", "d"],
                          "wall_s": [1.0, 2.0, 5.0, 1.0], "cpu_s": 1.0, "max_rss_mb": 1.0,
                          "start": [0.0, 1.0, 1.0, 6.0], "end": [1.0, 3.0, 6.0, 7.0]})
    path = timing.critical_path(table, deps)
    assert [table.at[i, "job"] for i in path] == ["a", "c", "d"]
    fig = timing.plot_timeline(table, deps, cores=2)
    assert "critical path (outlined): 3 jobs, 0.1 min" in fig.axes[0].get_title()
    assert "on 2 cores" in fig.axes[0].get_title()
