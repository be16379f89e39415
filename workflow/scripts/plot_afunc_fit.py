import pandas as pd

from mnist1d import plotting
from mnist1d.experiments.afunc_fit import plot_fit
from mnist1d.pipeline.logs import job_logger

log = job_logger(snakemake.rule, snakemake.log[0])
png, pdf = snakemake.output
fig = plot_fit(pd.read_csv(snakemake.input.table), pd.read_csv(snakemake.input.samples),
               pd.read_csv(snakemake.input.pieces))
plotting.save_figure(fig, png, pdf)
log.info(f"wrote {png} and {pdf}")
