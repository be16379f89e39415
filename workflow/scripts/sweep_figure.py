import pandas as pd

from mnist1d.experiments import sweeps
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure

log = job_logger("sweep_figure", snakemake.log[0])
fig = sweeps.plot_sweep(pd.read_csv(snakemake.input[0]), log_x=snakemake.params.log_x,
                        default=snakemake.params.default)
save_figure(fig, *snakemake.output)
log.info(f"wrote {snakemake.output}")
