"""The human baseline: the shipped quiz table, its numbers, and the person beside the CNN."""
import numpy as np
import pandas as pd
import pytest
import torch

from helpers import REFERENCE_HUMAN, REFERENCE_PKL
from mnist1d import models, specs, train
from mnist1d.experiments import benchmark, human
from mnist1d.experiments import paper_comparison as comparison
from mnist1d.utils import from_pickle

@pytest.fixture(scope="module")
def quiz():
    return human.load_quiz()


def test_shipped_table_is_rebuilt_exactly_from_the_reference_pickles(quiz, frozen):
    rebuilt = human.rebuild_from_reference(REFERENCE_HUMAN, REFERENCE_PKL)
    pd.testing.assert_frame_equal(rebuilt, quiz)
    # every quiz input is the frozen test example at its index, exactly (no nearest match)
    for name in human.QUIZZES:
        inputs, answers, labels = (np.asarray(a) for a in from_pickle(REFERENCE_HUMAN / f"human_{name}.pkl"))
        rows = quiz[quiz.quiz == name]
        np.testing.assert_array_equal(frozen["x_test"][rows.test_index], inputs)
        np.testing.assert_array_equal(rows.answer, answers)
        np.testing.assert_array_equal(rows.label, labels)


def test_shipped_table_matches_the_packaged_frozen_test_set(quiz, frozen):
    human.check_labels(quiz, frozen["y_test"])
    assert len(quiz) == 500 and quiz.groupby("quiz").size().tolist() == [100] * 5
    assert quiz.test_index.between(0, 999).all()


def test_an_input_outside_the_test_set_stops_the_build():
    x_test = np.arange(12.0).reshape(4, 3)
    y_test = np.array([0, 1, 2, 3])
    table = human.build_quiz_table({"q": [x_test[[2, 0]], [2, 1], [2, 0]]}, x_test, y_test)
    assert table.test_index.tolist() == [2, 0] and table.answer.tolist() == [2, 1]
    with pytest.raises(ValueError, match="quiz q, position 1: the input is not in the frozen"):
        human.build_quiz_table({"q": [[x_test[1], x_test[1] + 1e-9], [1, 1], [1, 1]]}, x_test,
                               y_test)
    with pytest.raises(ValueError, match="true label 3 but the frozen test example 0"):
        human.build_quiz_table({"q": [[x_test[0]], [3], [3]]}, x_test, y_test)
    with pytest.raises(ValueError, match="benchmark.variants.normal"):
        human.check_labels(table, np.array([0, 1, 3, 3]))


def test_published_estimate_and_distinct_quizzes(quiz):
    acc = human.quiz_accuracy(quiz).set_index("quiz")
    assert acc["accuracy"].tolist() == [96.0, 96.0, 96.0, 97.0, 94.0]
    assert human.duplicates(quiz) == {"q2": "q1"}
    assert acc.loc["q2", "repeats"] == "q1"
    mean, se, k, n = human.estimate(quiz)              # the notebook's 95.8 +- 0.44
    assert (round(mean, 1), round(se, 2), k, n) == (95.8, 0.44, 5, 500)
    mean, se, k, n = human.estimate(quiz, distinct_only=True)
    assert (mean, k, n) == (95.75, 4, 400) and se == pytest.approx(np.std([96, 96, 97, 94]) / 2)
    assert human.human_rate() == pytest.approx(95.8)
    assert sorted(human.distinct(quiz).quiz.unique()) == ["q1", "q3", "q4", "q5"]


def test_class_error_rates():
    n, errors, rate = human.class_error_rates([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2])
    assert n[:4].tolist() == [2, 3, 1, 0] and errors[:3].tolist() == [1, 1, 0]
    np.testing.assert_allclose(rate[:3], [50.0, 100 / 3, 0.0])
    assert np.isnan(rate[3])


def _predictions(quiz, wrong_every):
    """Two seeds' predictions on a 1 000-example test set that holds the quiz labels."""
    labels = np.zeros(1000, int)
    labels[quiz.test_index] = quiz.label
    frames = []
    for seed, k in enumerate(wrong_every):
        pred = labels.copy()
        pred[::k] = (pred[::k] + 1) % 10
        frames.append(pd.DataFrame({"seed": seed, "test_index": np.arange(1000), "label": labels,
                                    "prediction": pred}))
    return pd.concat(frames, ignore_index=True)


def test_compare_person_and_cnn(quiz):
    predictions = _predictions(quiz, wrong_every=(10, 20))    # 10 % and 5 % wrong everywhere
    summary, classes = human.compare(quiz, predictions)
    s = summary.set_index("examples")
    assert s.loc["whole test set (1000)", "accuracy"] == pytest.approx(92.5)
    assert s.loc["quiz, distinct quizzes", "accuracy"] == 95.75
    # quiz examples: 400 distinct indices (q2 repeats q1), every 10th / 20th index wrong
    assert s.loc["quiz examples (400)", "n"] == 400
    assert s.loc["quiz examples (400)", "accuracy"] == pytest.approx(92.5)
    c = classes.set_index(["who", "examples", "label"])
    person = human.distinct(quiz)
    n3 = int((person.label == 3).sum())
    assert c.loc[("human", "quiz, distinct quizzes", 3), "n"] == n3
    assert c.loc[("human", "quiz, distinct quizzes", 3), "error_rate"] == 0.0
    assert (c.loc["cnn"]["seeds"] == 2).all()
    # a test set whose labels differ from the quiz's stops the comparison
    bad = predictions.assign(label=(predictions.label + 1) % 10)
    with pytest.raises(ValueError, match="another label"):
        human.compare(quiz, bad)
    md = human.markdown(summary, human.quiz_accuracy(quiz), classes)
    assert "q2 is q1" in md and "95.8 ± 0.44" in md


def test_comparison_rows(quiz):
    summary, _ = human.compare(quiz, _predictions(quiz, wrong_every=(10, 20)))
    rows = {r["quantity"].split(";")[0]: r for r in comparison.human_rows(summary)}
    published = rows["human accuracy, all five quiz files, as published (± SE over quizzes)"]
    assert published["verdict"] == "reproduced" and published["reproduced_std"] == pytest.approx(0.438, abs=1e-3)
    distinct = rows["human accuracy, distinct quizzes, q2 = q1 counted once (± SE over quizzes)"]
    assert distinct["reproduced_mean"] == 95.75 and distinct["n"] == 4
    margin = rows["person - benchmark CNN accuracy on the same quiz examples (distinct quizzes)"]
    assert margin["reproduced_mean"] == pytest.approx(95.75 - 92.5)
    assert margin["verdict"] == "reproduced"
    empty = comparison.human_rows(summary.iloc[:0])
    assert {r["verdict"] for r in empty} == {"missing"}


def test_benchmark_test_predictions_match_the_evaluation():
    rng = np.random.default_rng(0)
    data = {"x": rng.normal(size=(50, 40)), "y": rng.integers(0, 10, 50),
            "x_test": rng.normal(size=(30, 40)), "y_test": rng.integers(0, 10, 30)}
    spec = specs.spec_of("cnn")
    params = models.init_params(spec, [3, 5])
    p = benchmark.test_predictions("cnn", params, data, [3, 5])
    assert list(p.columns) == benchmark.PREDICTION_COLUMNS and len(p) == 60
    assert p.groupby("seed").size().to_dict() == {3: 30, 5: 30}
    x = torch.as_tensor(data["x_test"], dtype=torch.float32)
    _, acc = train.evaluate(spec, params, x, torch.as_tensor(data["y_test"]))
    ours = p.assign(ok=p.label == p.prediction).groupby("seed")["ok"].mean() * 100
    np.testing.assert_allclose(ours.to_numpy(), acc.numpy())


def test_protocol_needs_the_cnn_on_normal_data():
    config = {"benchmark": {"models": ["cnn"], "variants": {"normal": "default"}, "seeds": [0]}}
    assert human.protocol_from_config(config) == {"model": "cnn", "variant": "normal", "seeds": [0]}
    # without the benchmark CNN on the normal data there is no human baseline (no rule, no rows)
    assert human.protocol_from_config({"benchmark": {**config["benchmark"], "models": ["mlp"]}}) is None
    assert human.protocol_from_config({"benchmark": {**config["benchmark"], "variants": {}}}) is None
