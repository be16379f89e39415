import pandas as pd

from mnist1d.experiments import pooling
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure

log = job_logger("pooling_figures", snakemake.log[0])
history = pd.read_csv(snakemake.input.history)
settings = snakemake.params.figure
window = settings["smooth"]
save_figure(pooling.plot_curves(history, settings["figure_datasets"], window),
            *snakemake.output.paper)
save_figure(pooling.plot_curves(history, settings["datasets"], window, ncols=3),
            *snakemake.output.all)
save_figure(pooling.plot_final(pd.read_csv(snakemake.input.summary)), *snakemake.output.final)
log.info(f"wrote {snakemake.output}")
