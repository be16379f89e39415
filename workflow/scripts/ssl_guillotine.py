import pandas as pd

from mnist1d.experiments import ssl
from mnist1d.io import write_csv, write_text
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure

log = job_logger("ssl_guillotine", snakemake.log[0])
paths = [snakemake.input.main, *snakemake.input.variants]
tables = {name: pd.read_csv(path) for name, path in zip(snakemake.params.models, paths)}
table = ssl.guillotine_table(tables)
write_csv(table, snakemake.output.csv)
write_text(ssl.guillotine_markdown(table), snakemake.output.md)
save_figure(ssl.plot_guillotine(table), *snakemake.output.figure)
log.info("\n" + table.to_string(index=False))
