# Configuration (validated, preset applied), where results go, the checks that run before any
# job is scheduled, and the helpers the rule files share.
import jsonschema
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

import mnist1d.pipeline.checks
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
        raise WorkflowError(
            mnist1d.pipeline.config.describe_validation_error(e.__context__)
        ) from None


try:
    _resolved = mnist1d.pipeline.config.resolve(
        config, workflow.config_settings.overwrite_config, f"{workflow.basedir}/workflow/presets"
    )
except ValueError as e:
    raise WorkflowError(str(e)) from None
validate_config(_resolved)
config.clear()
config.update(_resolved)
# Every file of this configuration lives under RESULTS: results/ for the paper preset,
# results/<preset>/ for the others, unless config key results_dir says otherwise; so presets never
# overwrite each other.
RESULTS = config["results_dir"].rstrip("/")

if workflow.is_main_process:
    # Before any job is scheduled (not again inside each job): results of another preset are not
    # overwritten, every model of `models:` imports and gives (batch, 10) logits, and a damaged
    # input stops the run before Snakemake deletes the outputs built
    # from it.
    try:
        mnist1d.pipeline.checks.check_results_dir(RESULTS, config)
        mnist1d.pipeline.checks.check_inputs(RESULTS, config)
        mnist1d.pipeline.checks.check_models(config)
    except ValueError as e:
        raise WorkflowError(str(e)) from None

# Final targets; each rule file adds its own, and `rule all` asks for them.
ALL_TARGETS = []
# Snakemake starts ready jobs of higher priority first. A single job of many minutes (the
# activation metalearning, a pooling variant) or one with a long job after it (the SSL model,
# then its t-SNE figure) must not start last and leave a core idle at the end;
# the lottery chain (lottery.smk) comes before it, the double-descent jobs (0 .. their number,
# longest first) after it.
LONG_JOB_PRIORITY = 100
# A job's priority does not pass to the jobs making its inputs: the datasets (a second each) come
# before everything, or the lottery chain would wait for its dataset behind every other job.
DATA_PRIORITY = 2000
# Rules whose jobs are not part of `all` (e.g. the sweeps): the timing of `all` leaves them out.
OUTSIDE_ALL_RULES = set()


def result(path):
    """The path of a result file of this configuration."""
    return f"{RESULTS}/{path}"


def dataset_file(name):
    return result(f"data/{name}.npz")


def require_datasets(key, names):
    """Stop the run when config key `key` names a dataset that `datasets:` does not define."""
    names = [names] if isinstance(names, str) else list(names)
    missing = [name for name in names if name not in config["datasets"]]
    if missing:
        raise WorkflowError(
            f"config key '{key}': dataset(s) {missing} are not in 'datasets' "
            f"({sorted(config['datasets'])})"
        )


def figure(name):
    """The PNG and PDF files of one figure: results/NAME.png and .pdf for the paper preset."""
    return [result(f"{name}.png"), result(f"{name}.pdf")]


def report_figure(name, category):
    """figure(name) with its PNG shown in `snakemake --report` under `category`, captioned by
    workflow/report/NAME.rst (the protocol, read from the config, and the paper's finding)."""
    png, pdf = figure(name)
    return [report(png, caption=f"../report/{name}.rst", category=category), pdf]


# What a job asks for (config.yaml `jobs`; mnist1d/pipeline/jobs.py). In a rule:
#     threads: job_threads("TOPIC")
#     resources: **job_resources("TOPIC", gpu=True)    # gpu=True only where a job trains
#     group: job_group("TOPIC")                         # only on independent fan-out jobs
def job_threads(topic):
    return mnist1d.pipeline.jobs.job_threads(config["jobs"], topic)


def job_resources(topic, gpu=False):
    return mnist1d.pipeline.jobs.job_resources(config["jobs"], topic, gpu=gpu)


def job_group(topic):
    return mnist1d.pipeline.jobs.job_group(topic)
