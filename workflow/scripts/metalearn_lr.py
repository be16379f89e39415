import pandas as pd

from mnist1d.pipeline.device import job_device, set_threads
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.experiments.metalearn_lr import metalearn_lr_trials
from mnist1d.store import load_dataset

log = job_logger("metalearn_lr", snakemake.log[0])
set_threads(snakemake.threads)
protocol = dict(snakemake.params.protocol)   # metalearn_lr.protocol_from_config(config)
data = load_dataset(snakemake.input[0])
with job_device(snakemake.params.device, snakemake.resources) as device:
    log.info(f"protocol {protocol} on {device}")
    rows = metalearn_lr_trials(data, protocol, device=device, log=log.info)
write_csv(pd.DataFrame(rows), snakemake.output[0])
