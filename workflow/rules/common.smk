# Configuration (validated, preset applied) and the helpers the rule files share.
import jsonschema
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

import mnist1d.pipeline.config
import mnist1d.pipeline.jobs

SCHEMA = "../schemas/config.schema.yaml"


def validate_config(cfg):
    """Snakemake's validate(), with a one-line message that names the offending key."""
    try:
        validate(cfg, SCHEMA)
    except WorkflowError as e:
        if not isinstance(e.__context__, jsonschema.ValidationError):
            raise
        raise WorkflowError(mnist1d.pipeline.config.describe_validation_error(e.__context__)) from None


validate_config(config)
_resolved = mnist1d.pipeline.config.resolve(
    config, workflow.config_settings.overwrite_config, f"{workflow.basedir}/workflow/presets"
)
config.clear()
config.update(_resolved)
validate_config(config)

# Final targets; each rule file adds its own, and `rule all` asks for them.
ALL_TARGETS = []


def figure(name):
    """The PNG and PDF files of one figure."""
    return [f"results/figures/{name}.png", f"results/figures/{name}.pdf"]


def report_figure(name, category):
    """figure(name) with its PNG shown in `snakemake --report` under `category`, captioned by
    workflow/report/NAME.rst (the protocol, read from the config, and the paper's finding)."""
    png, pdf = figure(name)
    return [report(png, caption=f"../report/{name}.rst", category=category), pdf]


# What a job asks for (config.yaml `jobs`; mnist1d/jobs.py). In a rule:
#     threads: job_threads("TOPIC")
#     resources: **job_resources("TOPIC", gpu=True)    # gpu=True only where a job trains
#     group: job_group("TOPIC")                         # only on independent fan-out jobs
def job_threads(topic):
    return mnist1d.pipeline.jobs.job_threads(config["jobs"], topic)


def job_resources(topic, gpu=False):
    return mnist1d.pipeline.jobs.job_resources(config["jobs"], topic, gpu=gpu)


def job_group(topic):
    return mnist1d.pipeline.jobs.job_group(topic)
