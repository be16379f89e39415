import pandas as pd

from mnist1d.experiments import pooling
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger

log = job_logger("pooling_summary", snakemake.log[0])
history = pooling.combine([pd.read_csv(path) for path in snakemake.input])
summary = pooling.summarise(history)
write_csv(history, snakemake.output.history)
write_csv(summary, snakemake.output.csv)
for line in pooling.check_targets(summary):
    log.info(line)
