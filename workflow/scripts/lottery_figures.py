import pandas as pd

from mnist1d.experiments import lottery
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure

log = job_logger("lottery_figures", snakemake.log[0])
summary = pd.read_csv(snakemake.input.summary)
store = lottery.MaskStore(snakemake.input.masks)
round_, trial = int(summary["round"].iloc[0]), int(summary["trial"].min())
save_figure(lottery.plot_sweep(pd.read_csv(snakemake.input.search)), *snakemake.output.sweep)
save_figure(lottery.plot_asymptotes(pd.read_csv(snakemake.input.history)),
            *snakemake.output.asymptotes)
save_figure(lottery.plot_adjacency(pd.read_csv(snakemake.input.adjacency)),
            *snakemake.output.adjacency)
save_figure(lottery.plot_masks(store, round_, trial), *snakemake.output.masks)
save_figure(lottery.plot_summary(summary), *snakemake.output.summary)
log.info(f"wrote {snakemake.output}")
