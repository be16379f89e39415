"""Protocol sensitivity: how much each protocol choice moves a finding.

`config.yaml`'s `sensitivity.choices` names choices, each one config key (a dotted path such as
`lottery.search.score_step`), the value it takes in the alternative setting, and the experiment
whose job it feeds (`lottery_search`, `lottery_analysis`, `metalearn_afunc`, `ssl`); `also` may
change further keys of the same experiment together with it (e.g. the SSL shift and loss as one
choice). The alternative configuration is the resolved configuration with that key changed
(`alternative_config`); its job computes with the experiment's own `protocol_from_config` of it
(`protocol`), through the same workflow script as the main job. A choice of the lottery search may
list `methods: [magnitude]` when it changes only the magnitude scores: the alternative search then
trains the lottery tickets alone and the findings take the random tickets from the main search.
An alternative analysis setting reuses the main search's masks.

Findings (`findings_*`), each computed from the main run (setting `paper`) and the alternative
run (`alternative`) as mean, standard deviation and count over the experiment's trials or seeds:
- lottery_search: lottery minus random ticket, final test accuracy, per sparsity band (the mean
  over a band's rounds per trial), and the best lottery ticket (the best final test accuracy of a pruned round) minus the dense network (round 0);
- lottery_analysis: lottery minus random and lottery minus dense per condition, and the lottery
  ticket on flipped minus on shuffled inputs (the spatial prior);
- metalearn_afunc: the outer objective (mean over outer steps), the learned f minus the best
  baseline on the inner loop's mean of the last `loss_last` losses, the learned f's final test
  accuracy (one run: no spread);
- ssl: linear and kNN probe of the output and of the best layer (by mean linear probe).

Verdict (`verdict`): an `effect` finding (a difference whose sign is the finding) survives when
its sign is the same in both settings and the difference of the means is within the spread,
2 * sqrt(std_paper^2 + std_alternative^2); a `level` finding (an accuracy, a loss) survives when
the difference is within the spread. Where a setting has fewer than two trials or seeds there is
no spread: an effect is judged by its sign alone, a level is `no spread` (not judged).
"""
import copy
import math

import numpy as np
import pandas as pd

EXPERIMENTS = ("lottery_search", "lottery_analysis", "metalearn_afunc", "ssl")
# The config keys a choice of each experiment may change: the sections its job reads.
KEY_PREFIXES = {"lottery_search": ("lottery.search.", "lottery.hidden"),
                "lottery_analysis": ("lottery.analysis.",),
                "metalearn_afunc": ("metalearn.afunc.",),
                "ssl": ("ssl.",)}
SETTINGS = ("paper", "alternative")
BANDS = ((0.0, 0.25), (0.25, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 0.95), (0.95, 1.0))
COLUMNS = ["choice", "label", "key", "paper_value", "alternative_value", "experiment", "finding",
           "kind", "unit", "paper_mean", "paper_std", "paper_n", "alternative_mean",
           "alternative_std", "alternative_n", "difference", "spread", "verdict"]
_MISSING = object()


# --- configuration ----------------------------------------------------------------------------

def declared(config):
    """name -> entry of `sensitivity.choices` as written (empty without the section)."""
    return dict((config.get("sensitivity") or {}).get("choices") or {})


def choices(config):
    """name -> entry of the choices that run: a choice whose alternative already is the configured
    value (a user who switched the paper setting, e.g. `--config` with the former protocol) has
    nothing to compare and is left out rather than stopping every run."""
    return {n: c for n, c in declared(config).items()
            if get_key(config, c["key"]) is _MISSING or get_key(config, c["key"]) != c["alternative"]}


def inactive(config):
    """The names of the declared choices left out by `choices`."""
    return [n for n in declared(config) if n not in choices(config)]


def names(config, experiment=None):
    return [n for n, c in choices(config).items()
            if experiment is None or c["experiment"] == experiment]


def choice(config, name):
    found = choices(config)
    if name not in found:
        raise ValueError(f"config key 'sensitivity.choices': no choice named {name!r}; "
                         f"choices: {sorted(found)}")
    return found[name]


def get_key(config, key):
    """The value at dotted path `key` of `config`, or _MISSING."""
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def changes(c):
    """[(dotted key, alternative value)] of one choice entry: its key, then those of `also`."""
    return [(c["key"], c["alternative"]), *dict(c.get("also") or {}).items()]


def check(config):
    """Every declared choice names existing keys of its experiment's section (`key` and those of
    `also`); a lottery-search `methods` reuse is magnitude alone. Raises ValueError naming the
    config key. (A choice whose alternative is the configured value is inactive: `choices`.)"""
    for name, c in declared(config).items():
        where = f"config key 'sensitivity.choices.{name}"
        if c["experiment"] not in EXPERIMENTS:
            raise ValueError(f"{where}.experiment': {c['experiment']!r} is not one of {EXPERIMENTS}")
        for i, (key, _) in enumerate(changes(c)):
            field = f"{where}.key'" if i == 0 else f"{where}.also.{key}'"
            if not any(key == p or key.startswith(p) for p in KEY_PREFIXES[c["experiment"]]):
                raise ValueError(f"{field}: {key!r} is not read by experiment "
                                 f"{c['experiment']!r} (keys under {KEY_PREFIXES[c['experiment']]})")
            if get_key(config, key) is _MISSING:
                raise ValueError(f"{field}: the configuration has no key {key!r}")
        if "methods" in c:
            if c["experiment"] != "lottery_search" or list(c["methods"]) != ["magnitude"]:
                raise ValueError(f"{where}.methods': only a lottery_search choice may set it, and "
                                 f"only to [magnitude] (the random tickets come from the main search)")
            if "random" not in config["lottery"]["search"]["methods"]:
                raise ValueError(f"{where}.methods': the main search trains no random ticket "
                                 f"(lottery.search.methods) to reuse")


def alternative_config(config, name):
    """The whole configuration with choice `name`'s keys set to their alternative values."""
    c = choice(config, name)
    alt = copy.deepcopy(config)
    for key, value in changes(c):
        *path, last = key.split(".")
        node = alt
        for part in path:
            node = node[part]
        node[last] = copy.deepcopy(value)
    if "methods" in c:
        alt["lottery"]["search"]["methods"] = list(c["methods"])
    return alt


def protocol(config, name):
    """What the alternative job of choice `name` computes with: its experiment's
    protocol_from_config of the alternative configuration."""
    from mnist1d.experiments import lottery, metalearn_afunc, ssl
    experiment = choice(config, name)["experiment"]
    alt = alternative_config(config, name)
    if experiment == "lottery_search":
        return lottery.protocol_from_config(alt, "search")
    if experiment == "lottery_analysis":
        return lottery.protocol_from_config(alt, "analysis")
    if experiment == "metalearn_afunc":
        return metalearn_afunc.protocol_from_config(alt)
    return ssl.protocol_from_config(alt)


def describe(config, name):
    """The plain facts of a choice the table names: label, key, both values, experiment."""
    c = choice(config, name)
    keys = changes(c)
    return {"choice": name, "label": c.get("label", name), "key": " + ".join(k for k, _ in keys),
            "paper_value": ", ".join(_text(get_key(config, k)) for k, _ in keys),
            "alternative_value": ", ".join(_text(v) for _, v in keys),
            "experiment": c["experiment"]}


def _text(value):
    return "null" if value is None else str(value)


# --- findings -------------------------------------------------------------------------------

def _stats(values):
    v = np.asarray(list(values), dtype=float)
    v = v[~np.isnan(v)]
    return {"mean": float(v.mean()) if len(v) else math.nan,
            "std": float(v.std(ddof=1)) if len(v) > 1 else math.nan, "n": int(len(v))}


def _finding(name, kind, unit, values):
    return {"finding": name, "kind": kind, "unit": unit, **_stats(values)}


def band_label(low, high):
    return f"{low * 100:g}-{high * 100:g} %"


def _final_rounds(history):
    last = history.loc[history.groupby(["round", "trial", "method"])["step"].idxmax()]
    return last[["round", "sparsity", "trial", "method", "test_acc"]]


def findings_lottery_search(history, random_from=None):
    """Findings of one search history (search_history.csv). `random_from`: a history whose random
    tickets stand in where `history` trained the lottery tickets alone."""
    final = _final_rounds(history)
    if "random" not in set(final["method"]):
        if random_from is None:
            raise ValueError("lottery search history has no random ticket and none to reuse")
        final = pd.concat([final, _final_rounds(random_from).query("method == 'random'")])
    wide = final.pivot_table(index=["trial", "round", "sparsity"], columns="method",
                             values="test_acc").reset_index()
    gap = wide["magnitude"] - wide["random"]
    pruned = wide["round"] > wide.groupby("trial")["round"].transform("min")   # not the dense round
    out = []
    for i, (low, high) in enumerate(BANDS):
        last = i == len(BANDS) - 1
        inside = pruned & (wide["sparsity"] >= low - 1e-9) & ((wide["sparsity"] <= high + 1e-9) if last
                                                     else (wide["sparsity"] < high - 1e-9))
        if inside.any():
            per_trial = gap[inside].groupby(wide["trial"][inside]).mean()
            out.append(_finding(f"lottery - random, sparsity {band_label(low, high)}", "effect",
                                "points", per_trial))
    per_trial = []
    for _, g in wide.groupby("trial"):
        first = g["round"].idxmin()            # round 0: nothing pruned, the dense network
        per_trial.append(g["magnitude"].drop(index=first).max() - g.loc[first, "magnitude"])
    out.append(_finding("best lottery ticket - dense", "effect", "points", per_trial))
    return out


def findings_lottery_analysis(summary):
    """Findings of one analysis (analysis.csv: final test accuracy per trial, condition, network)."""
    wide = summary.pivot_table(index=["trial", "condition"], columns="network",
                               values="test_acc").reset_index()
    out = []
    for condition in dict.fromkeys(summary["condition"]):
        g = wide[wide["condition"] == condition]
        out.append(_finding(f"lottery - random, {condition}", "effect", "points",
                            g["lottery"] - g["random"]))
        out.append(_finding(f"lottery - dense, {condition}", "effect", "points",
                            g["lottery"] - g["dense"]))
    lot = wide.pivot(index="trial", columns="condition", values="lottery")
    if {"flipped", "shuffled"} <= set(lot.columns):
        out.append(_finding("lottery ticket: flipped - shuffled", "effect", "points",
                            lot["flipped"] - lot["shuffled"]))
    return out


def findings_metalearn_afunc(steps, activations):
    """Findings of one activation run (afunc_steps.csv, afunc_activations.csv)."""
    act = activations.set_index("activation")
    baselines = act.drop(index="learned")
    best = baselines["mean_train_loss_last"].idxmin()
    return [
        _finding("outer objective, mean over outer steps", "level", "loss", [steps["outer_loss"].mean()]),
        _finding("learned f - best baseline, mean of the last inner losses", "effect", "loss",
                 [act.loc["learned", "mean_train_loss_last"] - baselines.loc[best, "mean_train_loss_last"]]),
        _finding("learned f, final test accuracy", "level", "points",
                 [act.loc["learned", "final_test_acc"]]),
    ]


def findings_ssl(table):
    """Findings of one SSL run (ssl.csv): probes after training, per seed."""
    after = table[table["stage"] == "after"]
    best = after.groupby("layer", sort=False)["linear_acc"].mean().idxmax()
    out = []
    for layer, what in ((best, "best layer"), ("output", "output")):
        rows = after[after["layer"] == layer]
        suffix = f" ({layer})" if what == "best layer" else ""
        out.append(_finding(f"linear probe, {what}{suffix}", "level", "points", rows["linear_acc"]))
        out.append(_finding(f"kNN probe, {what}{suffix}", "level", "points", rows["knn_acc"]))
    return out


def findings(experiment, files, random_from=None):
    """The findings of one run of `experiment` from its output files {name: path}."""
    if experiment == "lottery_search":
        return findings_lottery_search(pd.read_csv(files["history"]),
                                       None if random_from is None else pd.read_csv(random_from))
    if experiment == "lottery_analysis":
        return findings_lottery_analysis(pd.read_csv(files["summary"]))
    if experiment == "metalearn_afunc":
        return findings_metalearn_afunc(pd.read_csv(files["steps"]), pd.read_csv(files["activations"]))
    if experiment == "ssl":
        return findings_ssl(pd.read_csv(files["csv"]))
    raise ValueError(f"experiment {experiment!r} is not one of {EXPERIMENTS}")


def verdict(kind, paper, alternative):
    """(difference, spread, verdict) of one finding under the two settings (module docstring)."""
    diff = alternative["mean"] - paper["mean"]
    have_spread = paper["n"] > 1 and alternative["n"] > 1
    spread = 2 * math.hypot(paper["std"], alternative["std"]) if have_spread else math.nan
    if math.isnan(diff):
        return diff, spread, "missing"
    same_sign = np.sign(paper["mean"]) == np.sign(alternative["mean"])
    if not have_spread:
        if kind == "effect":
            return diff, spread, "survives (sign only)" if same_sign else "changes: sign (sign only)"
        return diff, spread, "no spread"
    within = abs(diff) <= spread
    if kind == "effect" and not same_sign:
        return diff, spread, "changes: sign" if not within else "unresolved: sign differs within the spread"
    return diff, spread, "survives" if within else "changes: size"


def compare(facts, paper_findings, alternative_findings):
    """The table rows of one choice: its facts, each finding under both settings, the verdict.
    Findings are matched by name; a best-layer finding matches on its text before the layer."""
    def base(name):
        return name.split(" (")[0]
    alt = {base(f["finding"]): f for f in alternative_findings}
    rows = []
    for p in paper_findings:
        a = alt.get(base(p["finding"]), {"finding": p["finding"], "mean": math.nan,
                                         "std": math.nan, "n": 0})
        diff, spread, word = verdict(p["kind"], p, a)
        name = p["finding"] if a["finding"] == p["finding"] else \
            f"{p['finding']} / alternative: {a['finding'].split(' (')[-1].rstrip(')')}"
        rows.append({**facts, "finding": name, "kind": p["kind"], "unit": p["unit"],
                     "paper_mean": p["mean"], "paper_std": p["std"], "paper_n": p["n"],
                     "alternative_mean": a["mean"], "alternative_std": a["std"],
                     "alternative_n": a["n"], "difference": diff, "spread": spread,
                     "verdict": word})
    return rows


def table(rows):
    return pd.DataFrame(rows, columns=COLUMNS)


DIGITS = {"points": 2, "loss": 3}


def _cell(mean, std, n, unit):
    if math.isnan(mean):
        return "-"
    d = DIGITS.get(unit, 3)
    text = f"{mean:.{d}f}" + ("" if math.isnan(std) else f" ± {std:.{d}f}")
    return f"{text} (n={n})"


RULE = ("Verdict: an effect (a difference whose sign is the finding) survives when its sign is "
        "the same under both settings and the means differ by at most the spread 2 sqrt(std_paper^2 "
        "+ std_alternative^2); its sign changes when the signs differ and the means differ by "
        "more than the spread (within it: unresolved); a level survives when the means differ by "
        "at most the spread, else its size changes. "
        "Values are mean ± std over trials (lottery) or seeds (SSL); the activation is one run "
        "(no spread: an effect is judged by its sign alone, a level is not judged). Accuracies "
        "and their differences in percentage points.")


def markdown(df, preset):
    """results/protocol_sensitivity.md: one section per choice, both settings side by side."""
    lines = ["# Protocol sensitivity", "",
             f"Preset `{preset}`. Each choice reruns its experiment with one config key changed; "
             "`paper` is the configured value (the reference notebooks' behaviour), "
             "`alternative` the other.", "", RULE, ""]
    for name, g in df.groupby("choice", sort=False):
        r = g.iloc[0]
        lines += [f"## {r['label']} (`{r['key']}`)", "",
                  f"Experiment `{r['experiment']}`: paper `{r['paper_value']}`, alternative "
                  f"`{r['alternative_value']}`.", "",
                  "| finding | paper | alternative | difference | spread | verdict |",
                  "|---|---|---|---|---|---|"]
        for _, x in g.iterrows():
            d = DIGITS.get(x["unit"], 3)
            spread = "-" if math.isnan(x["spread"]) else f"{x['spread']:.{d}f}"
            diff = "-" if math.isnan(x["difference"]) else f"{x['difference']:+.{d}f}"
            lines.append(f"| {x['finding']} ({x['unit']}) | "
                         f"{_cell(x['paper_mean'], x['paper_std'], x['paper_n'], x['unit'])} | "
                         f"{_cell(x['alternative_mean'], x['alternative_std'], x['alternative_n'], x['unit'])} | "
                         f"{diff} | {spread} | {x['verdict']} |")
        lines.append("")
    counts = df["verdict"].value_counts()
    lines.append("Verdicts: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".")
    return "\n".join(lines) + "\n"


SHORT_VERDICTS = {"changes: sign": "sign changes", "changes: size": "size changes",
                  "changes: sign (sign only)": "sign changes (sign only)",
                  "unresolved: sign differs within the spread": "unresolved"}


def plot(df):
    """One panel per choice: each finding in percentage points under both settings, mean ± std."""
    import matplotlib.pyplot as plt
    from mnist1d import plotting  # noqa: F401  (the project's style)

    choices_ = list(dict.fromkeys(df["choice"]))
    panels = [(c, df[(df["choice"] == c) & (df["unit"] == "points")]) for c in choices_]
    panels = [(c, g) for c, g in panels if len(g)]
    ncols = min(2, max(1, len(panels)))
    nrows = max(1, math.ceil(len(panels) / ncols))
    heights = [max(len(g) for _, g in panels[i * ncols:(i + 1) * ncols]) if panels else 1
               for i in range(nrows)]
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, 0.9 + sum(0.32 * h + 0.9 for h in heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    style = {"paper": dict(color="tab:red", marker="o", label="paper setting (config.yaml)"),
             "alternative": dict(color="tab:blue", marker="s", label="alternative")}
    for ax, (c, g) in zip(axes.flat, panels):
        y = np.arange(len(g))[::-1]
        for offset, setting in ((0.14, "paper"), (-0.14, "alternative")):
            std = g[f"{setting}_std"].fillna(0).to_numpy()
            ax.errorbar(g[f"{setting}_mean"], y + offset, xerr=std, ls="none", capsize=2,
                        ms=4, **style[setting])
        if (g["kind"] == "effect").any():
            ax.axvline(0, color="0.6", lw=0.8, zorder=0)
        ax.set_yticks(y)
        ax.set_yticklabels([f"{f}  [{SHORT_VERDICTS.get(v, v)}]"
                            for f, v in zip(g["finding"], g["verdict"])], fontsize=8)
        ax.set_ylim(-0.6, len(g) - 0.4)
        r = g.iloc[0]
        ax.set_title(f"{r['label']}\n{r['key']}: {r['paper_value']} (paper) vs "
                     f"{r['alternative_value']}", fontsize=9)
        ax.set_xlabel("percentage points (mean ± std)")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if panels:
        axes.flat[0].legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig
