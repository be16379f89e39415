"""Protocol sensitivity (mnist1d.experiments.sensitivity): the alternative configuration and
protocol of a choice, the checks of `sensitivity.choices`, and the findings and verdicts on
synthetic tables whose answers are known."""
import math

import numpy as np
import pandas as pd
import pytest

from helpers import resolved_config
from mnist1d.experiments import lottery, metalearn_afunc, sensitivity, ssl


def with_choices(config, **entries):
    config = dict(config)
    config["sensitivity"] = {"choices": entries}
    return config


# --- configuration ----------------------------------------------------------------------------

def test_alternative_config_changes_one_key_and_leaves_the_config_alone():
    config = with_choices(resolved_config("smoke"), t={"key": "ssl.temperature",
                                                       "alternative": 0.1, "experiment": "ssl"})
    sensitivity.check(config)
    alt = sensitivity.alternative_config(config, "t")
    assert alt["ssl"]["temperature"] == 0.1 and config["ssl"]["temperature"] == 0.5
    alt["ssl"].pop("temperature")
    assert alt["ssl"] == {k: v for k, v in config["ssl"].items() if k != "temperature"}
    want = ssl.protocol_from_config(config)
    want["settings"]["temperature"] = 0.1
    assert sensitivity.protocol(config, "t") == want


def test_protocols_are_the_experiments_own():
    config = with_choices(
        resolved_config("smoke"),
        s={"key": "lottery.search.lr", "alternative": 0.5, "experiment": "lottery_search",
           "methods": ["magnitude"]},
        a={"key": "lottery.analysis.reinit_seed", "alternative": 7, "experiment": "lottery_analysis"},
        f={"key": "metalearn.afunc.seed", "alternative": 3, "experiment": "metalearn_afunc"})
    sensitivity.check(config)
    search = sensitivity.protocol(config, "s")
    assert search["methods"] == ["magnitude"] and search["engine"]["lr"] == 0.5
    assert search == lottery.protocol_from_config(sensitivity.alternative_config(config, "s"), "search")
    assert sensitivity.protocol(config, "a")["reinit_seed"] == 7
    assert sensitivity.protocol(config, "f") == {**metalearn_afunc.protocol_from_config(config), "seed": 3}
    facts = sensitivity.describe(config, "a")
    assert (facts["paper_value"], facts["alternative_value"]) == ("0", "7")


def test_a_null_alternative_is_set_not_dropped():
    config = with_choices(resolved_config("smoke"), g={"key": "lottery.search.score_step",
                                                       "alternative": None,
                                                       "experiment": "lottery_search"})
    assert config["lottery"]["search"]["score_step"] is not None
    sensitivity.check(config)
    assert sensitivity.alternative_config(config, "g")["lottery"]["search"]["score_step"] is None
    assert sensitivity.describe(config, "g")["alternative_value"] == "null"


def test_also_changes_further_keys_together():
    config = with_choices(resolved_config("smoke"), both={
        "key": "ssl.temperature", "alternative": 0.1, "experiment": "ssl",
        "also": {"ssl.max_shift": 5}})
    sensitivity.check(config)
    alt = sensitivity.alternative_config(config, "both")
    assert (alt["ssl"]["temperature"], alt["ssl"]["max_shift"]) == (0.1, 5)
    facts = sensitivity.describe(config, "both")
    assert facts["key"] == "ssl.temperature + ssl.max_shift"
    assert (facts["paper_value"], facts["alternative_value"]) == ("0.5, 10", "0.1, 5")
    bad = with_choices(resolved_config("smoke"), both={
        "key": "ssl.temperature", "alternative": 0.1, "experiment": "ssl",
        "also": {"ssl.max_shiftt": 5}})
    with pytest.raises(ValueError, match=r"sensitivity\.choices\.both\.also\.ssl\.max_shiftt'"):
        sensitivity.check(bad)


@pytest.mark.parametrize("entry,message", [
    ({"key": "lottery.search.score_stepp", "alternative": None, "experiment": "lottery_search"},
     "sensitivity.choices.bad.key': the configuration has no key 'lottery.search.score_stepp'"),
    ({"key": "ssl.temperature", "alternative": 0.1, "experiment": "lottery_search"},
     "sensitivity.choices.bad.key': 'ssl.temperature' is not read by experiment 'lottery_search'"),
    ({"key": "ssl.temperature", "alternative": 0.1, "experiment": "ssl", "methods": ["magnitude"]},
     "sensitivity.choices.bad.methods'"),
    ({"key": "ssl.temperature", "alternative": 0.1, "experiment": "tsne"},
     "sensitivity.choices.bad.experiment'"),
])
def test_a_bad_choice_stops_naming_its_key(entry, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        sensitivity.check(with_choices(resolved_config("smoke"), bad=entry))


@pytest.mark.parametrize("preset", ["paper", "quick", "smoke"])
def test_the_configured_choices_pass_their_checks(preset):
    config = resolved_config(preset)
    sensitivity.check(config)
    assert set(c["experiment"] for c in sensitivity.choices(config).values()) == \
        set(sensitivity.EXPERIMENTS)
    for name in sensitivity.names(config):
        sensitivity.protocol(config, name)


# --- findings on synthetic tables -------------------------------------------------------------

def search_history(gap, trials=(42, 43), rounds=11, methods=("magnitude", "random"), dense=90.0):
    """Final rows of a search: random at 80 - 30 s, lottery `gap(trial, s)` above it; round 0 of
    the lottery at `dense`; an earlier evaluation at step 0 that must be ignored."""
    rows = []
    for trial in trials:
        for r, s in enumerate(np.linspace(0, 1, rounds)):
            for method in methods:
                acc = 80 - 30 * s + (gap(trial, s) if method == "magnitude" else 0.0)
                if r == 0 and method == "magnitude":
                    acc = dense
                rows.append({"round": r, "sparsity": s, "trial": trial, "method": method,
                             "step": 10, "test_acc": acc})
                rows.append({"round": r, "sparsity": s, "trial": trial, "method": method,
                             "step": 0, "test_acc": -100.0})
    return pd.DataFrame(rows)


def by_name(findings):
    return {f["finding"]: f for f in findings}


def test_lottery_search_gap_per_band_and_best_minus_dense():
    # gap 2 points for trial 42, 4 for 43, everywhere but round 0
    f = by_name(sensitivity.findings_lottery_search(
        search_history(lambda t, s: 2.0 if t == 42 else 4.0)))
    band = f["lottery - random, sparsity 25-50 %"]          # rounds at 0.3, 0.4
    assert band["mean"] == pytest.approx(3.0) and band["std"] == pytest.approx(math.sqrt(2))
    assert band["n"] == 2 and band["kind"] == "effect"
    # 0-25 % holds 0.1 and 0.2, not round 0 (the dense network, lottery 90 vs random 80)
    assert f["lottery - random, sparsity 0-25 %"]["mean"] == pytest.approx(3.0)
    assert f["lottery - random, sparsity 95-100 %"]["n"] == 2     # the last round, s = 1
    # the best lottery ticket is round 1 (80 - 3 + gap) against dense 90
    assert f["best lottery ticket - dense"]["mean"] == pytest.approx(77 + 3 - 90)
    assert len(f) == len(sensitivity.BANDS) + 1


def test_lottery_search_takes_random_tickets_from_the_main_search():
    main = search_history(lambda t, s: 1.0)
    alone = search_history(lambda t, s: 5.0, methods=("magnitude",))
    with pytest.raises(ValueError, match="no random ticket"):
        sensitivity.findings_lottery_search(alone)
    f = by_name(sensitivity.findings_lottery_search(alone, random_from=main))
    assert f["lottery - random, sparsity 50-70 %"]["mean"] == pytest.approx(5.0)


def test_lottery_analysis_findings():
    rows = []
    acc = {"dense": 70.0, "random": 60.0, "lottery": 65.0}
    for trial, shift in ((42, 0.0), (43, 2.0)):
        for condition in lottery.CONDITIONS:
            for network, a in acc.items():
                bonus = -8.0 if (condition == "shuffled" and network == "lottery") else 0.0
                rows.append({"trial": trial, "condition": condition, "network": network,
                             "test_acc": a + bonus + (shift if network == "lottery" else 0.0)})
    f = by_name(sensitivity.findings_lottery_analysis(pd.DataFrame(rows)))
    assert f["lottery - random, baseline"]["mean"] == pytest.approx(6.0)
    assert f["lottery - dense, flipped"]["mean"] == pytest.approx(-4.0)
    assert f["lottery - random, shuffled"]["mean"] == pytest.approx(-2.0)
    assert f["lottery ticket: flipped - shuffled"]["mean"] == pytest.approx(8.0)
    assert f["lottery ticket: flipped - shuffled"]["std"] == pytest.approx(0.0)
    assert len(f) == 2 * len(lottery.CONDITIONS) + 1


def test_afunc_findings():
    steps = pd.DataFrame({"outer_step": [0, 1, 2], "outer_loss": [1.0, 0.9, 0.8]})
    activations = pd.DataFrame({"activation": ["learned", "relu", "elu"],
                                "mean_train_loss_last": [0.50, 0.60, 0.55],
                                "final_test_acc": [71.0, 69.0, 70.0]})
    f = sensitivity.findings_metalearn_afunc(steps, activations)
    assert [x["mean"] for x in f] == pytest.approx([0.9, -0.05, 71.0])
    assert all(x["n"] == 1 and math.isnan(x["std"]) for x in f)


def test_ssl_findings_pick_the_best_layer_by_mean_linear_probe():
    rows = [{"layer": "input", "stage": "input", "seed": -1, "linear_acc": 30, "knn_acc": 50}]
    for seed in (0, 1):
        for layer, lin, knn in (("conv3", 80 + seed, 70), ("output", 75, 72 + 2 * seed)):
            rows.append({"layer": layer, "stage": "after", "seed": seed, "linear_acc": lin,
                         "knn_acc": knn})
            rows.append({"layer": layer, "stage": "before", "seed": seed, "linear_acc": 99,
                         "knn_acc": 99})
    f = by_name(sensitivity.findings_ssl(pd.DataFrame(rows)))
    assert f["linear probe, best layer (conv3)"]["mean"] == pytest.approx(80.5)
    assert f["kNN probe, output"]["mean"] == pytest.approx(73.0)
    assert f["kNN probe, output"]["n"] == 2


# --- verdicts and the table -------------------------------------------------------------------

def stats(mean, std=math.nan, n=1):
    return {"mean": mean, "std": std, "n": n}


@pytest.mark.parametrize("kind,paper,alt,word", [
    ("effect", stats(3.0, 1.0, 2), stats(4.0, 1.0, 2), "survives"),          # 1 <= 2 sqrt(2)
    ("effect", stats(3.0, 0.5, 2), stats(6.0, 0.5, 2), "changes: size"),     # 3 > 1.41
    ("effect", stats(1.0, 0.2, 2), stats(-1.0, 0.2, 2), "changes: sign"),
    ("effect", stats(1.0, 2.0, 2), stats(-1.0, 2.0, 2), "unresolved: sign differs within the spread"),
    ("effect", stats(0.0, 0.0, 2), stats(0.0, 0.0, 2), "survives"),
    ("effect", stats(-0.05), stats(-0.01), "survives (sign only)"),
    ("effect", stats(-0.05), stats(0.02), "changes: sign (sign only)"),
    ("level", stats(0.9), stats(1.2), "no spread"),
    ("level", stats(80.0, 1.0, 3), stats(70.0, 1.0, 3), "changes: size"),
    ("level", stats(80.0, 1.0, 3), stats(math.nan, math.nan, 0), "missing"),
])
def test_verdict_rule(kind, paper, alt, word):
    assert sensitivity.verdict(kind, paper, alt)[2] == word


def test_compare_markdown_and_figure(tmp_path):
    facts = {"choice": "c", "label": "a choice", "key": "ssl.temperature", "paper_value": "0.5",
             "alternative_value": "0.1", "experiment": "ssl"}
    paper = [{"finding": "linear probe, best layer (conv3)", "kind": "level", "unit": "points",
              **stats(80.0, 1.0, 3)},
             {"finding": "kNN probe, output", "kind": "level", "unit": "points", **stats(70.0, 1.0, 3)}]
    alt = [{"finding": "linear probe, best layer (output)", "kind": "level", "unit": "points",
            **stats(79.0, 1.0, 3)}]
    df = sensitivity.table(sensitivity.compare(facts, paper, alt))
    assert list(df.columns) == sensitivity.COLUMNS
    assert df["verdict"].tolist() == ["survives", "missing"]
    assert df["finding"][0] == "linear probe, best layer (conv3) / alternative: output"
    text = sensitivity.markdown(df, "smoke")
    assert "## a choice (`ssl.temperature`)" in text and "80.00 ± 1.00 (n=3)" in text
    assert "survives 1, missing 1" in text
    fig = sensitivity.plot(df)
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0


def test_a_choice_whose_alternative_is_configured_is_left_out_not_an_error():
    config = with_choices(resolved_config("smoke"),
                          same={"key": "ssl.temperature", "alternative": 0.5, "experiment": "ssl"},
                          other={"key": "ssl.temperature", "alternative": 0.1, "experiment": "ssl"})
    sensitivity.check(config)
    assert list(sensitivity.choices(config)) == ["other"]
    assert sensitivity.inactive(config) == ["same"]
