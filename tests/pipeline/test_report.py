"""The Snakemake report: every figure of `all` in it, captioned, in its experiment's category.

Captions (workflow/report/*.rst) are Jinja templates that read the run's configuration; Snakemake
renders them with a lenient Jinja environment, where a misspelt key silently becomes empty text.
The first test renders them strictly for every preset; the second builds the real report after
the smoke run and reads what the HTML embeds."""
import json
import re
import types
from pathlib import Path

import jinja2
import pytest
import yaml
from docutils.core import publish_parts

from helpers import REPO, SMOKE, dag_outputs, run_snakemake
from mnist1d.experiments import sweeps as sweeps_lib
from mnist1d.pipeline.config import PRESETS, check_report_config, differing_keys, resolve

REPORT_DIR = REPO / "workflow" / "report"
CATEGORIES = {
    "Data": ["templates", "transforms", "examples"],
    "Benchmark": ["benchmark", "human"],
    "Metalearning": ["metalearn_lr", "metalearn_afunc", "metalearn_afunc_fit"],
    "Pooling": ["pooling", "pooling_all", "pooling_final"],
    "t-SNE": ["tsne"],
    "SSL": ["ssl", "ssl_guillotine"],
    "Lottery tickets": ["lottery", "lottery_asymptotes", "lottery_adjacency", "lottery_masks",
                        "lottery_summary"],
    "Double descent": ["double_descent", "double_descent_mse"],
    "Timing": ["timing", "timeline"],
}


def resolved_config(preset, overlay=None):
    """config.yaml with a preset (and an overlay file) applied, as common.smk does."""
    with open(REPO / "config.yaml") as f:
        config = yaml.safe_load(f)
    config["preset"] = preset
    if overlay:
        with open(overlay) as f:
            config = resolve(config, yaml.safe_load(f), REPO / "workflow" / "presets")
        return config
    return resolve(config, {}, REPO / "workflow" / "presets")


def render_caption(path, config, wildcards=None):
    """Jinja with Snakemake's settings but undefined names as errors, then reStructuredText."""
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    # The link targets Snakemake appends to every caption (categories).
    links = "\n\n" + "\n".join(f".. _{c}: javascript:void(0)"
                              for c in [*CATEGORIES, "The paper, reproduced"])
    rst = env.from_string(path.read_text() + links).render(
        snakemake=types.SimpleNamespace(config=config, wildcards=wildcards or {}))
    return publish_parts(rst, writer="html",
                         settings_overrides={"halt_level": 2, "report_level": 2})["body"]


CONFIGS = [(p, None) for p in PRESETS] + [("paper", REPO / f"workflow/presets/{o}.yaml")
                                          for o in ("one_seed", "fifty_seeds")]


@pytest.mark.parametrize("preset,overlay", CONFIGS, ids=[p if o is None else f"{p}+{o.stem}"
                                                         for p, o in CONFIGS])
def test_every_caption_renders_strictly(preset, overlay):
    config = resolved_config(preset, overlay)
    captions = sorted(REPORT_DIR.glob("*.rst"))
    names = {c.stem for c in captions}
    expected = {name for names_ in CATEGORIES.values() for name in names_} | {"workflow"}
    assert expected <= names, f"figures without a caption: {sorted(expected - names)}"
    for caption in captions:
        # sweep.rst captions every sweep's figure (rule sweep_figure): rendered for each sweep
        all_wildcards = ([{"sweep": n} for n in sweeps_lib.names(config)]
                         if caption.name == "sweep.rst" else [None])
        for wildcards in all_wildcards:
            html = render_caption(caption, config, wildcards)  # raises on an undefined key or
            assert "{{" not in html and "{%" not in html, caption.name   # an RST warning
            assert len(html) > 200, f"{caption.name}: caption nearly empty"
            if wildcards:
                s = sweeps_lib.settings(config, wildcards["sweep"])
                assert f"{s['steps']} steps" in html and s["arg"] in html, (caption.name, wildcards)
    # The captions follow the configuration, not the paper's numbers written in.
    bench = render_caption(REPORT_DIR / "benchmark.rst", config)
    assert f"{config['benchmark']['steps']} steps" in bench
    assert f"{len(config['benchmark']['seeds'])} seeds" in bench
    person = render_caption(REPORT_DIR / "human.rst", config)
    assert f"{config['benchmark']['steps']} steps" in person and "greydanus/mnist1d" in person
    if config["benchmark"].get("seeds_per_job"):
        assert f"ensembles of at most {config['benchmark']['seeds_per_job']}" in bench


def embedded(html, script_id, var):
    """The JSON a Snakemake report embeds as `<script id=ID> var VAR = {...}; </script>`."""
    m = re.search(rf'<script id="{script_id}">\s*var {var} = (.*?);\s*</script>', html, re.S)
    assert m, f"no {var} in the report"
    return json.loads(m.group(1))


def test_report_shows_every_figure_with_its_caption(smoke_run, tmp_path):
    report = tmp_path / "report.html"
    run_snakemake(smoke_run, "--report", str(report), "--config", "preset=smoke")
    html = report.read_text(encoding="utf-8")
    results = embedded(html, "results", "results")
    categories = embedded(html, "categories", "categories")
    description = embedded(html, "workflow-desc", "workflow_desc")

    figures = sorted(o for o in dag_outputs(smoke_run) if o.endswith(".png"))
    assert all(f.startswith(f"{SMOKE}/") for f in figures), figures
    assert len(figures) >= sum(len(v) for v in CATEGORIES.values())
    missing = [f for f in figures if f not in results]
    assert not missing, f"figures of `all` not in the report: {missing}"

    config = resolved_config("smoke")
    for path in figures:
        entry = results[path]
        caption = entry["caption"]
        assert entry["mime_type"] == "image/png", path
        assert entry["data_uri"].startswith("data:image/png") and "base64," in entry["data_uri"]
        assert len(caption) > 200, f"{path}: no caption"
        assert "{{" not in caption and "{%" not in caption, f"{path}: raw Jinja left"
        assert "system-message" not in caption, f"{path}: reStructuredText error in the caption"
        assert "Paper" in caption, f"{path}: the caption does not say what the paper found"
        if not path.endswith(("templates.png", "transforms.png", "examples.png")):
            assert "preset smoke" in caption, f"{path}: caption does not state the run's protocol"

    in_category = {path: cat for cat, subcats in categories.items()
                   for paths in subcats.values() for path in paths}
    for category, names in CATEGORIES.items():
        for name in names:
            assert in_category.get(f"{SMOKE}/{name}.png") == category, name
    assert f"{config['benchmark']['steps']} steps" in results[f"{SMOKE}/benchmark.png"]["caption"]
    assert "preset <strong>smoke</strong>" in description
    assert "not the paper protocol" in description

    # With another configuration than the run's the captions would describe a protocol the
    # figures were not made with: refused.
    other = tmp_path / "other.yaml"
    other.write_text("preset: smoke\nbenchmark: {steps: 7}\n")
    proc = run_snakemake(smoke_run, "--report", str(tmp_path / "wrong.html"), "--configfile",
                         str(other), check=False)
    assert proc.returncode != 0 and not (tmp_path / "wrong.html").exists()
    assert f"{SMOKE}/config.yaml" in proc.stderr + proc.stdout and "benchmark.steps" in proc.stderr + proc.stdout


def test_differing_keys_names_nested_keys():
    recorded = {"preset": "smoke", "a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert differing_keys(recorded, recorded) == []
    assert differing_keys(recorded, {"preset": "paper", "a": {"b": 2, "c": [1, 2]}, "e": 1}) == [
        "a.b", "d", "e", "preset"]


def test_report_refuses_a_configuration_other_than_the_runs(tmp_path):
    record = tmp_path / "config.yaml"
    check_report_config(record, resolved_config("paper"))          # no record: nothing to compare
    record.write_text(yaml.safe_dump(resolved_config("smoke")))
    check_report_config(record, resolved_config("smoke"))
    with pytest.raises(ValueError, match=r"preset 'smoke'.*benchmark\.steps.*--config preset=smoke"):
        check_report_config(record, resolved_config("paper"))
