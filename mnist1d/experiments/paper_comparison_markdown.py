"""The paper comparison as a Markdown document for a reader (results/PRESET/paper_comparison.md):
the verdict rule, counts by kind of source, then one table per experiment. The rows come from
mnist1d.experiments.paper_comparison (`compare`)."""
import numpy as np

from mnist1d.experiments import published as pub
from mnist1d.experiments.paper_comparison import SPREAD_FACTOR


def _fmt(x, unit):
    if x is None or not np.isfinite(x):
        return "-"
    if unit == "parameters":
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def _fmt_published(x, unit):
    """A published value as precise as it was published (0.6243, 54.05)."""
    if x is None or not np.isfinite(x) or unit == "parameters":
        return _fmt(x, unit)
    return f"{x:g}"


def _counts(table):
    c = table["verdict"].value_counts()
    return c.get("reproduced", 0), c.get("differs", 0), c.get("missing", 0)


def markdown(table, preset, spread_factor=SPREAD_FACTOR):
    """The comparison as a Markdown document: the verdict rule, counts (all, and by kind of
    source), then one table per experiment."""
    ok, differs, missing = _counts(table)
    lines = [f"# The paper, reproduced (preset {preset})", "",
             f"{ok} of {len(table)} published numbers and findings reproduced; {differs} differ, "
             f"{missing} missing.", "",
             "**Verdict rule.** A published number is *reproduced* when it lies within mean ± "
             f"max({spread_factor:g} std, tolerance) of the reproduced value (std over the seeds "
             "or trials; tolerance from config.yaml `comparison`; a row with n = 1 has no "
             "spread: the tolerance alone). A ratio (factor) must lie within the stated factor; a "
             "finding stated in words (>= / <=) compares the measured margin with its bound. "
             "*missing*: the tables lack it (a preset that trains fewer models, sizes or widths). "
             "The human rows recompute the published number from the shipped quiz: their "
             "tolerance is the rounding (or the published SE), not a spread.", "",
             "**Sources.** `paper / blog`: the rounded numbers of the paper and the 2020 blog post; "
             "`README`: the reference repository's table; `notebook NAME, "
             "cell N`: what the reference notebook printed in its saved output (cells counted "
             "from 0). All in `mnist1d/experiments/published.py`.", "",
             "| source | reproduced | differs | missing |", "|---|---|---|---|"]
    kinds = table["source"].map(pub.kind)
    for k in pub.KINDS:
        part = table[kinds == k]
        if len(part):
            lines.append(f"| {k} | " + " | ".join(str(v) for v in _counts(part)) + " |")
    for experiment, part in table.groupby("experiment", sort=False):
        ok, differs, missing = _counts(part)
        lines += ["", f"## {experiment}", "",
                  f"{ok} reproduced, {differs} differ, {missing} missing.", "",
                  "| quantity | published | source | reproduced (mean ± std, n) | criterion | "
                  "verdict |", "|---|---|---|---|---|---|"]
        for r in part.itertuples():
            spread = "" if not np.isfinite(r.reproduced_std) or r.n == 1 \
                else f" ± {_fmt(r.reproduced_std, r.unit)}"
            unit = "" if r.unit in ("", "parameters") else f" {r.unit}"
            n = "n=1, no spread" if r.n == 1 else f"n={r.n}"
            reproduced = f"{_fmt(r.reproduced_mean, r.unit)}{spread}{unit} ({n})"
            within = (f"±max({r.spread_factor:g} std, {r.tolerance:g})" if r.spread_factor
                      else f"±{r.tolerance:g}")
            criterion = {"within": f"within {within} of {_fmt_published(r.published_value, r.unit)}",
                         "factor": f"within x{r.tolerance:g} of "
                                   f"{_fmt_published(r.published_value, r.unit)}",
                         "at_least": f">= {r.tolerance:g}",
                         "at_most": f"<= {r.tolerance:g}"}[r.criterion]
            mark = {"reproduced": "reproduced", "differs": "**differs**"}.get(r.verdict,
                                                                             r.verdict)
            lines.append(f"| {r.quantity} | {r.published} | {r.source} | {reproduced} | "
                         f"{criterion} | {mark} |")
        if experiment == "double descent":
            ours = part["source"].str.startswith("notebook").sum() // 2
            lines += ["", f"Per-width rows: {ours} of the notebook's "
                      f"{len(pub.double_descent())} widths and channel counts are in this "
                      "preset's grid (only those are compared)."]
    return "\n".join(lines) + "\n"
