import yaml

from mnist1d.io import write_text
from mnist1d.pipeline.logs import job_logger

log = job_logger("run_config", snakemake.log[0])
write_text("# The resolved configuration of the last `all` (preset, overrides and --config).\n"
           + yaml.safe_dump(dict(snakemake.params.config), sort_keys=False), snakemake.output[0])
log.info(f"wrote {snakemake.output[0]} (preset {snakemake.params.config['preset']})")
