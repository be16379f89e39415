"""Protocol sensitivity (`snakemake sensitivity`, not part of `all`): the jobs each choice plans,
a choice naming a key the configuration lacks stops the run, and at the smoke preset the
alternative jobs run (beside a finished smoke `all`) with the alternative protocol."""
import re
import shutil

import pandas as pd
import yaml

from helpers import SMOKE, resolved_config, run_snakemake
from mnist1d.experiments import sensitivity

CONFIG = resolved_config("smoke")
RULE_OF = {"lottery_search": "sensitivity_lottery_search",
           "lottery_analysis": "sensitivity_lottery_analysis",
           "metalearn_afunc": "sensitivity_metalearn_afunc", "ssl": "sensitivity_ssl"}


def job_counts(text):
    stats = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stats, flags=re.M)
            if rule != "total"}


def test_sensitivity_plans_one_alternative_job_per_choice_and_all_plans_none(tmp_path):
    plan = run_snakemake(tmp_path, "sensitivity", "-n", "--config", "preset=smoke")
    out = plan.stdout + plan.stderr
    counts = job_counts(out)
    for experiment, rule in RULE_OF.items():
        assert counts.get(rule, 0) == len(sensitivity.names(CONFIG, experiment)), counts
    assert counts["sensitivity_table"] == 1
    for name in sensitivity.names(CONFIG):     # each choice's job writes under its own folder
        assert f"{SMOKE}/sensitivity/{name}/" in out and f"choice={name}" in out
    # an alternative analysis reuses the main search: one search job per search choice plus the main
    assert counts["lottery_search"] == 1
    paper = run_snakemake(tmp_path, "all", "-n", "--quiet", "rules", "--config", "preset=smoke")
    assert not re.search(r"^sensitivity", paper.stdout, re.M), paper.stdout


def test_a_choice_whose_key_the_config_lacks_stops_naming_it(tmp_path):
    extra = tmp_path / "bad.yaml"
    extra.write_text(yaml.safe_dump({"preset": "smoke", "sensitivity": {"choices": {"x": {
        "key": "lottery.search.score_stepp", "alternative": None, "experiment": "lottery_search"}}}}))
    proc = run_snakemake(tmp_path, "sensitivity", "-n", "--configfile", str(extra), check=False)
    assert proc.returncode != 0
    assert "sensitivity.choices.x.key" in proc.stdout + proc.stderr


def test_sensitivity_runs_the_alternatives_beside_a_smoke_run(smoke_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(smoke_run, workdir, symlinks=True)    # main results done: alternatives only
    run_snakemake(workdir, "sensitivity", "--cores", "2", "--config", "preset=smoke")
    results = workdir / SMOKE
    df = pd.read_csv(results / "protocol_sensitivity.csv")
    assert list(df.columns) == sensitivity.COLUMNS
    assert list(dict.fromkeys(df["choice"])) == sensitivity.names(CONFIG)
    assert df["verdict"].notna().all() and (df["verdict"] != "missing").all()
    assert (results / "protocol_sensitivity.png").read_bytes()[:4] == b"\x89PNG"
    assert "# Protocol sensitivity" in (results / "protocol_sensitivity.md").read_text()
    # the alternative jobs computed with the alternative value (their logs print the protocol)
    for name, c in sensitivity.choices(CONFIG).items():
        if c["experiment"] in ("lottery_analysis", "ssl"):
            job = "ssl" if c["experiment"] == "ssl" else \
                f"lottery_analysis_{CONFIG['lottery']['analysis']['trials'][0]}_lottery"
            log = (results / "logs" / "sensitivity" / name / f"{job}.log").read_text()
            field = c["key"].rsplit(".", 1)[1]
            assert f"'{field}': {c['alternative']!r}" in log, log[:2000]
    # the protocol is the job's params: another alternative setting reruns that job alone
    ssl_choices = sensitivity.names(CONFIG, "ssl")
    if ssl_choices:
        extra = tmp_path / "other.yaml"
        extra.write_text(yaml.safe_dump({"preset": "smoke", "sensitivity": {"choices": {
            ssl_choices[0]: {"also": {"ssl.temperature": 0.3}}}}}))
        plan = run_snakemake(workdir, "sensitivity", "-n", "--configfile", str(extra))
        assert job_counts(plan.stdout + plan.stderr) == {
            "sensitivity_ssl": 1, "sensitivity_table": 1, "sensitivity": 1}
    again = run_snakemake(workdir, "sensitivity", "all", "-n", "--config", "preset=smoke")
    assert "Nothing to be done" in again.stdout + again.stderr
