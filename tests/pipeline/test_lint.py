"""Snakemake's linter finds nothing in the workflow beyond the warnings answered in docs/lint.md,
and snakefmt would leave every rule file as it is."""
import json
import re
import subprocess
import sys

import pytest

from helpers import REPO, snakemake_command

ANSWERED_DOC = REPO / "docs" / "lint.md"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def answered_titles():
    """The titles of docs/lint.md's "Lint warnings answered" list: `- **TITLE** reason`."""
    text = ANSWERED_DOC.read_text().split("## Lint warnings answered", 1)[1].split("\n## ", 1)[0]
    return {normalise(title) for title in re.findall(r"^- \*\*(.+?)\*\*", text, flags=re.M)}


def normalise(title):
    return " ".join(title.split()).rstrip(".:")


def parse_lints(stdout, stderr):
    """[(item, title)] of every lint Snakemake reported. `--lint json` prints JSON on stdout where
    the command line passes the format on (snakemake 9.27 prints text to stderr instead); the text
    format is one "Lints for ITEM:" line per rule or file, then one "    * TITLE:" line per lint,
    each followed by its explanation indented further."""
    try:
        report = json.loads(stdout)
    except ValueError:
        report = None
    if isinstance(report, dict):
        return [(json.dumps(entry["for"], sort_keys=True), lint["title"])
                for kind in ("snakefiles", "rules") for entry in report.get(kind, [])
                for lint in entry["lints"]]
    lints, item = [], None
    for line in ANSI.sub("", stdout + "\n" + stderr).splitlines():
        header = re.match(r"^Lints for (.+):\s*$", line)
        if header:
            item = header.group(1)
            continue
        title = re.match(r"^ {4}\* (.+):\s*$", line)
        if title and item is not None:
            lints.append((item, title.group(1)))
        elif line.strip() == "":
            item = None   # a blank line ends an item's list
    return lints


def lint(snakefile_dir, workdir):
    """(returncode, lints, output) of `snakemake --lint json` on the workflow in snakefile_dir."""
    cmd, env = snakemake_command(workdir, "--lint", "json")
    cmd[cmd.index("-s") + 1] = str(snakefile_dir / "Snakefile")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    return proc.returncode, parse_lints(proc.stdout, proc.stderr), proc.stdout + proc.stderr


def test_the_answered_list_is_read():
    titles = answered_titles()
    assert "Specify a conda environment or container for each rule" in titles, titles


def test_the_lint_parser_sees_a_lint(tmp_path):
    """A workflow with a rule that has no log: the parser must find that lint (a change of
    Snakemake's output format would otherwise pass every workflow)."""
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "Snakefile").write_text(
        'rule unlogged:\n    output:\n        "a.txt",\n    shell:\n        "touch {output}"\n')
    returncode, lints, output = lint(tmp_path / "wf", tmp_path)
    titles = {normalise(title) for _, title in lints}
    assert returncode != 0, output
    assert "No log directive defined" in titles, output


def test_snakemake_lint_reports_only_answered_warnings(tmp_path):
    returncode, lints, output = lint(REPO, tmp_path)
    answered = answered_titles()
    unanswered = sorted({f"{item}: {title}" for item, title in lints
                         if normalise(title) not in answered})
    assert not unanswered, ("snakemake --lint reports (fix them, or answer them in docs/lint.md):\n"
                            + "\n".join(unanswered))
    # A run that failed before linting (the workflow does not load) reports no lint at all.
    assert returncode == 0 or lints, output


def test_snakefmt_leaves_the_workflow_unchanged():
    pytest.importorskip("snakefmt")
    cmd = [sys.executable, "-m", "snakefmt", "--config", str(REPO / "pyproject.toml"), "--check",
           "--verbose", "Snakefile", "workflow/rules"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    # --verbose names each file that would change (and the line of a parse error)
    details = [line for line in (proc.stdout + proc.stderr).splitlines()
               if line.strip() not in ("", "[DEBUG]") and "matched the --include" not in line]
    assert proc.returncode == 0, (
        "snakefmt would reformat the workflow; run `snakefmt Snakefile workflow/rules/` and commit "
        "the result:\n" + "\n".join(details[-40:]))
