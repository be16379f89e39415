"""Pieces sized for the CPU or for a GPU (config `jobs.pieces`, mnist1d.experiments.pieces):
the CPU's are the plans of before (names and members, frozen below), the GPU's hold more members
per job, and both cover every member once and compute the same numbers."""
import pandas as pd
import pytest
import torch

from helpers import resolved_config
from mnist1d.experiments import double_descent as dd
from mnist1d.experiments import lottery
from mnist1d.experiments.pieces import pieces_for

pytestmark = pytest.mark.usefixtures("one_thread")

# The CPU plans as they were before `jobs.pieces` existed (made with that code): double-descent
# job -> sizes, lottery search segment -> the segment it continues, analysis parts.
CPU_DD = {
    "smoke": {"mlp_cross_entropy_g0": [32, 8, 2], "mlp_mse_g0": [32, 8, 2],
              "cnn_cross_entropy_g0": [6, 2]},
    "paper": {**{f"mlp_{loss}_g{i}": sizes for loss in ("cross_entropy", "mse")
                 for i, sizes in enumerate([[300, 230], [177, 135], [104, 80], [61, 47],
                                            [36, 27, 21, 16, 12, 9], [7, 5, 4, 3, 2]])},
              **{f"cnn_cross_entropy_g{i}": sizes for i, sizes in enumerate(
                  [[100, 95, 90], [85, 80, 75, 70], [65, 60, 55, 50], [45, 40, 35],
                   [30, 28, 26, 24, 22], [20, 18, 16], [14, 12], [10, 8, 6], [4, 2]])}},
}
CPU_SEGMENTS = {
    "smoke": {f"{name}_{t}_{rounds}": (f"magnitude_{t}_000-002" if name == "magnitude" and
                                       rounds == "003-003" else None)
              for t in (42, 43) for name, rounds in (("magnitude", "000-002"),
                                                     ("magnitude", "003-003"),
                                                     ("random", "000-003"))},
    "paper": {f"{name}_{t}_{rounds}": (f"magnitude_{t}_000-091" if rounds == "092-099" else None)
              for t in (42, 43) for name, rounds in (
                  ("magnitude", "000-091"), ("magnitude", "092-099"), ("random", "000-024"),
                  ("random", "025-049"), ("random", "050-074"), ("random", "075-099"))},
}
CPU_PARTS = ["42_dense", "42_random", "42_lottery", "43_dense", "43_random", "43_lottery"]


def with_jobs(config, **jobs):
    return {**config, "jobs": {**config["jobs"], **jobs}}


def test_auto_sizes_for_a_gpu_where_the_topic_asks_for_one():
    config = resolved_config("smoke")
    assert config["jobs"]["pieces"] == "auto"
    assert pieces_for(config, "double_descent") == "cpu"                    # gpus: 0
    gpu = with_jobs(config, gpus=1)
    assert pieces_for(gpu, "double_descent") == pieces_for(gpu, "lottery") == "gpu"
    stays = with_jobs(config, gpus=1, topics={**config["jobs"]["topics"],
                                              "lottery": {"gpu": False}})
    assert (pieces_for(stays, "lottery"), pieces_for(stays, "double_descent")) == ("cpu", "gpu")
    assert pieces_for(with_jobs(config, gpus=1, pieces="cpu"), "lottery") == "cpu"
    assert pieces_for(with_jobs(config, pieces="gpu"), "lottery") == "gpu"  # forced, on the CPU
    assert pieces_for({"double_descent": {}}, "double_descent") == "cpu"    # no jobs section
    with pytest.raises(ValueError, match="jobs.pieces"):
        pieces_for(with_jobs(config, pieces="tpu"), "lottery")


@pytest.mark.parametrize("preset", ["smoke", "paper"])
def test_cpu_pieces_are_the_plans_of_before(preset):
    for config in (resolved_config(preset), with_jobs(resolved_config(preset), gpus=1,
                                                      pieces="cpu")):
        assert {j["name"]: j["sizes"] for j in dd.jobs_from_config(config)} == CPU_DD[preset]
        assert dd.jobs_from_config(config) == dd.plan_jobs(config["double_descent"])
        segments = lottery.search_plan(config)
        assert {s["name"]: s["after"] for s in segments} == CPU_SEGMENTS[preset]
        assert all(len(s["trials"]) == 1 for s in segments)
        assert list(lottery.analysis_plan(config)) == CPU_PARTS
        assert all(part == [int(name.split("_")[0]), name.split("_")[1]]
                   for name, part in lottery.analysis_plan(config).items())
        assert lottery.protocol_from_config(config, "analysis")["group"] == lottery.ANALYSIS_GROUP


def members_of_dd(jobs):
    return sorted((j["arch"], j["loss"], m) for j in jobs for m in dd.job_members(j))


def test_gpu_pieces_of_double_descent_one_job_per_arch_and_loss_at_the_paper_grid():
    config = resolved_config("paper")
    cpu, gpu = dd.jobs_from_config(config), dd.jobs_from_config(with_jobs(config, gpus=1))
    assert [j["name"] for j in gpu] == ["mlp_cross_entropy_sizes300-2", "mlp_mse_sizes300-2",
                                        "cnn_cross_entropy_sizes100-2"]
    assert members_of_dd(gpu) == members_of_dd(cpu)
    assert not {j["name"] for j in gpu} & {j["name"] for j in cpu}
    assert max(dd.job_cost(j) for j in gpu) <= dd.GPU_MAX_JOB_MACS
    # the protocol a job gets holds its members: every size, noise level and seed
    protocol = dd.protocol_from_config(with_jobs(config, gpus=1), "cnn_cross_entropy_sizes100-2")
    assert protocol["job"]["sizes"] == config["double_descent"]["cnn"]["sizes"][::-1]
    # more seeds: the bound splits the groups (sizes descending, each size in one group)
    five = with_jobs({**config, "double_descent": {**config["double_descent"],
                                                   "seeds": [0, 1, 2, 3, 4]}}, pieces="gpu")
    jobs = dd.jobs_from_config(five)
    assert len(jobs) > 3 and all(dd.job_cost(j) <= dd.GPU_MAX_JOB_MACS for j in jobs)
    assert members_of_dd(jobs) == members_of_dd(dd.plan_jobs(five["double_descent"]))


def test_gpu_pieces_of_the_lottery_every_trial_in_one_job():
    config = resolved_config("paper")
    gpu = with_jobs(config, gpus=1)
    segments = lottery.search_plan(gpu)
    assert {s["name"]: s["after"] for s in segments} == {
        "magnitude_42_43_000-091": None, "magnitude_42_43_092-099": "magnitude_42_43_000-091",
        "random_42_43_000-049": None, "random_42_43_050-099": None}
    assert lottery.analysis_round(config) == 91      # the chain is still cut after it
    # every (trial, method, round) is trained by exactly one segment, in both sizings
    for plan in (lottery.search_plan(config), segments):
        covered = sorted((t, s["method"], r) for s in plan for t in s["trials"]
                         for r in range(s["first"], s["stop"]))
        assert covered == sorted((t, m, r) for t in (42, 43) for m in lottery.METHODS
                                 for r in range(100))
    parts = lottery.analysis_plan(gpu)
    assert parts == {f"{n}_42_43": [[42, n], [43, n]] for n in lottery.NETWORKS}
    assert lottery.protocol_from_config(gpu, "analysis")["group"] == lottery.GPU_ANALYSIS_GROUP
    assert lottery.part_pairs(parts["lottery_42_43"]) == [(42, "lottery"), (43, "lottery")]
    assert lottery.part_pairs([42, "dense"]) == [(42, "dense")]
    with pytest.raises(ValueError, match="rounds_per_job"):
        lottery.search_segments((42,), lottery.METHODS, 5, "fresh", 3, 0, trials_together=True)


def test_gpu_sized_double_descent_jobs_train_the_cpu_jobs_numbers_float64(frozen):
    small = {"x": frozen["x"][:300], "y": frozen["y"][:300], "x_test": frozen["x_test"][:200],
             "y_test": frozen["y_test"][:200]}
    data = {0.0: small, 0.15: dict(small, y=dd.noisy_labels(small["y"], 0.15, seed=3))}
    settings = {"lr": 0.01, "momentum": 0.9, "batch_size": 100, "epochs": 2,
                "eval_every_epochs": 1}
    # sizes whose CPU plan makes several groups of each architecture
    section = {"seeds": [0, 1], "mlp": {"sizes": [3, 40, 120], "noise": [0.0, 0.15],
                                        "losses": ["cross_entropy"]},
               "cnn": {"sizes": [2, 30, 60], "noise": [0.15], "losses": ["mse"]}}
    cpu, gpu = dd.plan_jobs(section, "cpu"), dd.plan_jobs(section, "gpu")
    assert (len(cpu), len(gpu)) == (5, 2)
    train = lambda jobs: dd.combine([dd.train_group(j, data, settings, dtype=torch.float64)  # noqa: E731
                                     for j in jobs])
    pd.testing.assert_frame_equal(train(gpu), train(cpu), rtol=1e-10, atol=1e-10)
