import pandas as pd

from mnist1d.experiments import sweeps
from mnist1d.io import write_csv, write_text
from mnist1d.pipeline.logs import job_logger

log = job_logger("sweep_table", snakemake.log[0])
df = sweeps.table([pd.read_csv(path) for path in snakemake.input], snakemake.params.models)
write_csv(df, snakemake.output.csv)
write_text(sweeps.markdown(df), snakemake.output.md)
log.info("\n" + sweeps.markdown(df))
