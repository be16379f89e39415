"""One protocol per job: after a smoke run, a change of a key reruns exactly the jobs that compute
with it (dry runs against the finished smoke results)."""
import re

import pytest
import yaml

from helpers import run_snakemake

# Jobs that follow any change of the configuration: the record of it, and the timing table
# (it reads the timing file of every job that reruns).
BOOKKEEPING = {"run_config", "timing", "all"}
TRAINING = {"benchmark_train", "pooling_train", "ssl_train", "ssl_variant", "dd_train",
            "lottery_search_segment", "lottery_analysis_part", "metalearn_lr", "metalearn_afunc",
            "metalearn_afunc_fit", "dataset", "dd_noisy_dataset"}


def planned_jobs(workdir, tmp_path, overrides):
    """{rule: count} of what `snakemake -n all` plans with the smoke preset and `overrides`."""
    extra = tmp_path / "overrides.yaml"
    extra.write_text(yaml.safe_dump({"preset": "smoke", **overrides}))
    proc = run_snakemake(workdir, "all", "-n", "--configfile", str(extra), timeout=300)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    stats = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^(\w+)\s+(\d+)$", stats, flags=re.M)
    return {rule: int(n) for rule, n in rows if rule != "total"}


PLOTTING_KEYS = [
    ({"pooling": {"smooth": 3}}, {"pooling_figures"}),
    ({"pooling": {"figure_datasets": ["pool2k"]}}, {"pooling_figures"}),
    ({"double_descent": {"reference_width": 8}}, {"dd_aggregate", "dd_figures", "paper_comparison"}),
    ({"double_descent": {"threshold_tolerance": 2.0}},
     {"dd_aggregate", "dd_figures", "paper_comparison"}),
    ({"tsne": {"perplexity": 20}}, {"tsne_figure", "ssl_figure"}),
    ({"tsne": {"logistic": "raw"}}, {"tsne_baselines", "tsne_figure", "paper_comparison"}),
    ({"comparison": {"accuracy": 7.0}}, {"paper_comparison"}),
]


@pytest.mark.parametrize("overrides, expected", PLOTTING_KEYS,
                         ids=[str(o) for o, _ in PLOTTING_KEYS])
def test_a_plotting_key_plans_only_what_draws_with_it(smoke_run, tmp_path, overrides, expected):
    planned = planned_jobs(smoke_run, tmp_path, overrides)
    print(overrides, "plans", planned)
    assert set(planned) - BOOKKEEPING == expected, planned


TRAINING_KEYS = [
    ({"benchmark": {"steps": 60}}, {"benchmark_train": 8}),
    ({"pooling": {"lr": 0.02}}, {"pooling_train": 2}),
    ({"double_descent": {"epochs": 3}}, {"dd_train": 3}),
    # the other label noise: new noisy datasets (both levels), so every job retrains
    ({"double_descent": {"label_noise": "seeded"}}, {"dd_noisy_dataset": 2, "dd_train": 3}),
    ({"double_descent": {"noise_seed": 3}}, {}),     # unused by the notebook's label noise
    ({"lottery": {"analysis": {"steps": 30}}}, {"lottery_analysis_part": 6}),
    # the dense networks of the analysis need no mask: they stay
    ({"lottery": {"search": {"rank_by": "tensor"}}},
     {"lottery_search_segment": 6, "lottery_analysis_part": 4}),
    ({"ssl": {"temperature": 0.4}}, {"ssl_train": 1, "ssl_variant": 2}),
    ({"metalearn": {"lr": {"outer_lr": 0.2}}}, {"metalearn_lr": 1}),
    # the fit is its own job: refitting does not rerun the activation job
    ({"metalearn": {"afunc_fit": {"continuous": True}}}, {"metalearn_afunc_fit": 1}),
]


@pytest.mark.parametrize("overrides, expected", TRAINING_KEYS,
                         ids=[str(o) for o, _ in TRAINING_KEYS])
def test_a_training_key_plans_that_experiments_training(smoke_run, tmp_path, overrides, expected):
    planned = planned_jobs(smoke_run, tmp_path, overrides)
    print(overrides, "plans", planned)
    trained = {rule: n for rule, n in planned.items() if rule in TRAINING}
    assert trained == expected, planned


def test_an_unchanged_configuration_plans_nothing(smoke_run, tmp_path):
    assert planned_jobs(smoke_run, tmp_path, {}) == {}
