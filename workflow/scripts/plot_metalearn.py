import pandas as pd

from mnist1d import plotting
from mnist1d.pipeline.logs import job_logger
from mnist1d.experiments.metalearn_afunc import plot_afunc
from mnist1d.experiments.metalearn_lr import plot_lr

log = job_logger(snakemake.rule, snakemake.log[0])
png, pdf = snakemake.output
if snakemake.rule == "metalearn_lr_figure":
    fig = plot_lr(pd.read_csv(snakemake.input[0]))
else:
    fig = plot_afunc(pd.read_csv(snakemake.input.steps), pd.read_csv(snakemake.input.function),
                     pd.read_csv(snakemake.input.activations), **snakemake.params.figure)
plotting.save_figure(fig, png, pdf)
log.info(f"wrote {png} and {pdf}")
