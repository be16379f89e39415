# The report (`snakemake --report results/report.html`, docs/outputs.md): its captions describe
# the protocol from the configuration given to --report, so `all` records the configuration the
# results were made with, and --report refuses a different one.
import sys

import mnist1d.pipeline.config

ALL_TARGETS.append(result("config.yaml"))


def _report_only():
    """True when this invocation only builds a report (the run, if any, came before)."""
    args = sys.argv[1:]
    wants = any(a == "--report" or a.startswith("--report=") for a in args)
    return wants and "--report-after-run" not in args


if _report_only():
    try:
        mnist1d.pipeline.config.check_report_config(result("config.yaml"), config)
    except ValueError as e:
        raise WorkflowError(str(e)) from None


rule run_config:
    output:
        result("config.yaml"),
    log:
        result("logs/report/config.log"),
    benchmark:
        result("timing/report/config.tsv")
    params:
        config=config,  # a change of any key reruns this job (the params rerun trigger)
    script:
        "../scripts/run_config.py"
