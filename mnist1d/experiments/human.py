"""The human baseline (the reference notebook building-mnist1d.ipynb): one person's answers to five quizzes
of 100 frozen test examples each, beside the benchmark CNN.

Source: the reference repository greydanus/mnist1d (Apache-2.0), files
`static/human_q1.pkl` ... `static/human_q5.pkl`, each a list [inputs, guesses, true labels].
They ship here as one small table, `human_quiz.csv` beside this module (quiz, position in the
quiz, index in the frozen test set, true label, answer); `build_quiz_table` rebuilds it from the
pickles and the frozen dataset (`python -m mnist1d.experiments.human HUMAN_DIR FROZEN_PKL OUT`),
matching every quiz input to the test example it equals exactly (no nearest-neighbour guess: an
input without an exact match stops the build).

The published 95.8 +- 0.44 % is the reference notebook's estimate over all five files: the
accuracy of the 500 pooled answers, +- the standard deviation of the five quiz accuracies (numpy's
default, ddof 0) over sqrt(5). But q1 and q2 are the same file (same examples, same answers), so
one quiz is counted twice; `estimate(table, distinct=True)` drops such repeats (400 answers).
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from mnist1d.experiments import published

QUIZ_CSV = Path(__file__).with_name("human_quiz.csv")
QUIZ_COLUMNS = ["quiz", "position", "test_index", "label", "answer"]
QUIZZES = ("q1", "q2", "q3", "q4", "q5")
SOURCE = ("greydanus/mnist1d (Apache-2.0), static/human_q1.pkl ... human_q5.pkl, "
          "shipped as mnist1d/experiments/human_quiz.csv")
PUBLISHED = published.HUMAN   # the reference README / notebook (mnist1d.experiments.published)
PUBLISHED_TEXT = published.HUMAN_TEXT
CLASSES = tuple(range(10))
CLASS_COLUMNS = ["who", "examples", "label", "n", "errors_mean", "error_rate",
                 "error_rate_std", "seeds"]
SUMMARY_COLUMNS = ["who", "examples", "quizzes", "n", "accuracy", "spread", "spread_kind",
                   "seeds", "source"]


def protocol_from_config(config):
    """What the human job compares with: the benchmark CNN on the normal (frozen) data; None
    when the benchmark does not train it (then the human baseline is not made, and the
    comparison has no human rows)."""
    section = config["benchmark"]
    if "cnn" not in section["models"] or "normal" not in section["variants"]:
        return None
    return {"model": "cnn", "variant": "normal", "seeds": [int(s) for s in section["seeds"]]}


# ---- the table -------------------------------------------------------------------------------

def build_quiz_table(quizzes, x_test, y_test):
    """The quiz table from {name: [inputs, guesses, true labels]} and the frozen test set.

    Each input must equal one row of `x_test` exactly, and its stored true label must be
    `y_test` there; otherwise a ValueError names the quiz and the position."""
    x_test, y_test = np.asarray(x_test, float), np.asarray(y_test)
    lookup = {}
    for i, row in enumerate(x_test):
        lookup.setdefault(row.tobytes(), i)
    rows = []
    for name, quiz in quizzes.items():
        if len(quiz) != 3:
            raise ValueError(f"quiz {name}: expected [inputs, guesses, true labels], got "
                             f"{len(quiz)} items")
        inputs, guesses, labels = (np.asarray(a) for a in quiz)
        if not len(inputs) == len(guesses) == len(labels):
            raise ValueError(f"quiz {name}: {len(inputs)} inputs, {len(guesses)} guesses, "
                             f"{len(labels)} labels")
        for pos, (x, guess, label) in enumerate(zip(inputs.astype(float), guesses, labels)):
            index = lookup.get(np.ascontiguousarray(x).tobytes())
            if index is None:
                nearest = int(((x_test - x) ** 2).sum(1).argmin())
                raise ValueError(f"quiz {name}, position {pos}: the input is not in the frozen test "
                                 f"set (nearest test example {nearest}, squared distance "
                                 f"{((x_test[nearest] - x) ** 2).sum():.3g}); is x_test the "
                                 "frozen paper dataset?")
            if int(y_test[index]) != int(label):
                raise ValueError(f"quiz {name}, position {pos}: true label {int(label)} but the "
                                 f"frozen test example {index} has label {int(y_test[index])}")
            rows.append((name, pos, index, int(label), int(guess)))
    return pd.DataFrame(rows, columns=QUIZ_COLUMNS)


def rebuild_from_reference(human_dir, frozen_pkl):
    """The table from the reference repository's pickles (human_q1.pkl ...) and frozen data."""
    from mnist1d.utils import from_pickle

    human_dir = Path(human_dir)
    quizzes = {}
    for name in QUIZZES:
        path = human_dir / f"human_{name}.pkl"
        if not path.exists():
            raise FileNotFoundError(f"human quiz: no file {path}")
        quizzes[name] = from_pickle(path)
    data = from_pickle(frozen_pkl)
    return build_quiz_table(quizzes, data["x_test"], data["y_test"])


def load_quiz(path=QUIZ_CSV):
    """The shipped quiz table, checked (columns, labels and answers 0-9, 100 per quiz)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"human quiz table {path} is missing (package data of mnist1d)")
    table = pd.read_csv(path)
    if list(table.columns) != QUIZ_COLUMNS:
        raise ValueError(f"{path}: columns {list(table.columns)}, expected {QUIZ_COLUMNS}")
    for col in ("label", "answer"):
        if not table[col].between(0, 9).all():
            raise ValueError(f"{path}: column {col!r} has values outside 0-9")
    return table


def check_labels(table, test_labels, where="the benchmark's normal test set"):
    """Stop unless every quiz example's label equals the test label at its index (i.e. the test
    set is the frozen one the quiz was taken on)."""
    test_labels = np.asarray(test_labels)
    idx = table["test_index"].to_numpy()
    if idx.max() >= len(test_labels):
        raise ValueError(f"human quiz: test index {idx.max()} beyond {where} ({len(test_labels)} "
                         "examples); the quiz was taken on the frozen paper dataset")
    bad = np.flatnonzero(test_labels[idx] != table["label"].to_numpy())
    if len(bad):
        raise ValueError(f"human quiz: {len(bad)} quiz examples have another label in {where} "
                         f"(e.g. test index {idx[bad[0]]}); the quiz was taken on the frozen paper "
                         "dataset (config: benchmark.variants.normal must name it)")


# ---- the person's numbers --------------------------------------------------------------------

def duplicates(table):
    """{quiz: earlier identical quiz} for quizzes with the same examples and answers in order."""
    seen, out = {}, {}
    for name, quiz in table.groupby("quiz", sort=False):
        key = tuple(zip(quiz["test_index"], quiz["answer"]))
        if key in seen:
            out[name] = seen[key]
        else:
            seen[key] = name
    return out


def distinct(table):
    """The table without repeated quizzes (q2 repeats q1)."""
    return table[~table["quiz"].isin(duplicates(table))]


def quiz_accuracy(table):
    """Per quiz: examples, correct answers, accuracy (%), and the quiz it repeats (if any)."""
    dup = duplicates(table)
    g = table.assign(correct=table.label == table.answer).groupby("quiz", sort=False)
    out = g.agg(n=("correct", "size"), correct=("correct", "sum")).reset_index()
    out["accuracy"] = 100.0 * out["correct"] / out["n"]
    out["repeats"] = [dup.get(q, "") for q in out["quiz"]]
    return out


def estimate(table, distinct_only=False):
    """The reference notebook's estimate: (pooled accuracy %, SE, number of quizzes, answers).
    SE = std of the quiz accuracies (ddof 0, as numpy's default) / sqrt(quizzes)."""
    t = distinct(table) if distinct_only else table
    accs = quiz_accuracy(t)["accuracy"].to_numpy()
    pooled = 100.0 * float((t.label == t.answer).mean())
    return pooled, float(np.std(accs) / np.sqrt(len(accs))), len(accs), len(t)


def human_rate(table=None):
    """The human line of the benchmark figure: the notebook's estimate over all five files (the
    published number, recomputed from the shipped table)."""
    return estimate(load_quiz() if table is None else table)[0]


def class_error_rates(labels, predictions):
    """Per class 0-9: (examples, errors, % misclassified); NaN rate for an absent class."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    n = np.array([(labels == c).sum() for c in CLASSES])
    errors = np.array([((labels == c) & (predictions != c)).sum() for c in CLASSES])
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, 100.0 * errors / np.maximum(n, 1), np.nan)
    return n, errors, rate


# ---- the person beside the CNN ---------------------------------------------------------------

def _model_class_rows(who, examples, predictions):
    """Per-class error rate of every seed, then mean and std over seeds."""
    per_seed = []
    for seed, p in predictions.groupby("seed"):
        n, errors, rate = class_error_rates(p["label"], p["prediction"])
        per_seed.append((n, errors, rate))
    n = per_seed[0][0]
    errors = np.array([e for _, e, _ in per_seed], float)
    rates = np.array([r for _, _, r in per_seed])
    std = rates.std(0, ddof=1) if len(rates) > 1 else np.zeros(len(CLASSES))
    return [(who, examples, c, int(n[c]), errors[:, c].mean(), rates[:, c].mean(), std[c],
             len(per_seed)) for c in CLASSES]


def compare(table, predictions, model="cnn"):
    """(summary, per-class) tables: the person and the benchmark model (`predictions`: seed,
    test_index, label, prediction of every test example) on the quiz examples and on the whole
    test set."""
    check_labels(table, predictions.drop_duplicates("test_index").sort_values("test_index")
                 ["label"].to_numpy())
    uniq = distinct(table)
    quiz_index = np.unique(uniq["test_index"])
    on_quiz = predictions[predictions.test_index.isin(quiz_index)]
    seeds = predictions.seed.nunique()
    summary, classes = [], []
    for name, t, kind in (("all five files", table, "published"),
                          ("distinct quizzes", uniq, "distinct")):
        acc, se, k, n = estimate(t)
        summary.append(("human", f"quiz, {name}", k, n, acc, se,
                        "SE over quizzes (std ddof 0 / sqrt(quizzes))", 0, SOURCE))
        n_c, err_c, rate_c = class_error_rates(t["label"], t["answer"])
        classes += [("human", f"quiz, {name}", c, int(n_c[c]), float(err_c[c]), rate_c[c], 0.0, 0)
                    for c in CLASSES]
    for examples, p in ((f"quiz examples ({len(quiz_index)})", on_quiz),
                        (f"whole test set ({predictions.test_index.nunique()})", predictions)):
        acc = p.assign(ok=p.label == p.prediction).groupby("seed")["ok"].mean() * 100.0
        summary.append((model, examples, 0, p.test_index.nunique(), float(acc.mean()),
                        float(acc.std(ddof=1)) if len(acc) > 1 else 0.0, "std over seeds",
                        seeds, "benchmark job's final predictions"))
        classes += _model_class_rows(model, examples, p)
    return (pd.DataFrame(summary, columns=SUMMARY_COLUMNS),
            pd.DataFrame(classes, columns=CLASS_COLUMNS))


def markdown(summary, per_quiz, classes):
    """The numbers, the quizzes and the per-class error rates as one Markdown document."""
    lines = ["# Human baseline", "",
             f"Published: {PUBLISHED_TEXT} (the notebook's estimate over five quiz files). "
             f"Source of the answers: {SOURCE}.", "",
             "| who | examples | quizzes | answers | accuracy (%) | ± | spread |",
             "|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        quizzes = r.quizzes if r.who == "human" else "-"
        lines.append(f"| {r.who} | {r.examples} | {quizzes} | {r.n} | {r.accuracy:.2f} | "
                     f"{r.spread:.2f} | {r.spread_kind}"
                     + (f", {r.seeds} seeds" if r.who != "human" else "") + " |")
    lines += ["", "| quiz | answers | correct | accuracy (%) | repeats |", "|---|---|---|---|---|"]
    for r in per_quiz.itertuples():
        lines.append(f"| {r.quiz} | {r.n} | {r.correct} | {r.accuracy:.1f} | "
                     f"{r.repeats or '-'} |")
    dup = per_quiz[per_quiz.repeats != ""]
    if len(dup):
        lines += ["", "Repeated files: " + ", ".join(f"{r.quiz} is {r.repeats} (same examples, "
                                                      "same answers)" for r in dup.itertuples())
                  + "; the published estimate counts it twice."]
    pivot = classes.pivot_table(index=["who", "examples"], columns="label", values="error_rate",
                                sort=False)
    lines += ["", "% misclassified per class (model: mean over seeds)", "",
              "| who | examples | " + " | ".join(str(c) for c in CLASSES) + " |",
              "|---|---|" + "---|" * len(CLASSES)]
    for (who, examples), r in pivot.iterrows():
        lines.append(f"| {who} | {examples} | "
                     + " | ".join("-" if not np.isfinite(v) else f"{v:.1f}" for v in r) + " |")
    return "\n".join(lines) + "\n"


def plot_class_errors(classes, summary):
    """The paper's 'mistakes by class': % misclassified per class, the person (distinct
    quizzes) beside the CNN on the same examples and on the whole test set."""
    import matplotlib.pyplot as plt

    from mnist1d.plotting import CLASS_COLORS

    groups = [g for g in classes.groupby(["who", "examples"], sort=False)
              if not g[0][1].endswith("all five files")]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / len(groups)
    x = np.arange(len(CLASSES))
    for i, ((who, examples), g) in enumerate(groups):
        g = g.set_index("label").loc[list(CLASSES)]
        s = summary[(summary.who == who) & (summary.examples == examples)].iloc[0]
        if who == "human":
            label = f"person, {int(s.quizzes)} distinct quizzes ({int(s.n)} test examples)"
        elif examples.startswith("quiz"):
            label = f"{who.upper()}, the same {int(s.n)} examples"
        else:
            label = f"{who.upper()}, whole test set ({int(s.n):,} examples)"
        label += f": {100 - s.accuracy:.1f} % wrong"
        if who != "human":
            label += f" (mean of {int(s.seeds)} seeds)"
        yerr = g["error_rate_std"].to_numpy() if who != "human" and s.seeds > 1 else None
        pos = x + (i - (len(groups) - 1) / 2) * width
        for xi, rate in zip(pos, g["error_rate"]):
            if rate == 0:   # a bar of height 0 is invisible: say it
                ax.text(xi, 0.5, "0", ha="center", va="bottom", fontsize=7)
        ax.bar(pos, g["error_rate"], width, yerr=yerr,
               color=CLASS_COLORS[[2, 0, 9][i % 3]], label=label, capsize=2,
               error_kw={"lw": 0.8})
    ax.set_xticks(x, [str(c) for c in CLASSES])
    ax.set_xlabel("true label")
    ax.set_ylabel("% misclassified")
    ax.set_title("Mistakes by class label: a person and the benchmark CNN")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_ylim(0, max(5.0, float(np.nanmax(classes["error_rate"] + classes["error_rate_std"]))) * 1.35)
    fig.tight_layout()
    return fig


def main(argv):
    if len(argv) != 3:
        raise SystemExit("usage: python -m mnist1d.experiments.human HUMAN_DIR FROZEN_PKL OUT_CSV")
    from mnist1d.io import write_csv

    write_csv(rebuild_from_reference(argv[0], argv[1]), argv[2])


if __name__ == "__main__":
    main(sys.argv[1:])
