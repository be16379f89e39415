# Configuration (validated, preset applied) and the helpers the rule files share.
from snakemake.utils import validate

import mnist1d.config

SCHEMA = "../schemas/config.schema.yaml"

validate(config, SCHEMA)
_resolved = mnist1d.config.resolve(
    config, workflow.config_settings.overwrite_config, f"{workflow.basedir}/workflow/presets"
)
config.clear()
config.update(_resolved)
validate(config, SCHEMA)

# Final targets; each rule file adds its own, and `rule all` asks for them.
ALL_TARGETS = []


def figure(name):
    """The PNG and PDF files of one figure."""
    return [f"results/figures/{name}.png", f"results/figures/{name}.pdf"]
