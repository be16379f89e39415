import pandas as pd

from mnist1d.experiments import double_descent
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure

log = job_logger("dd_figures", snakemake.log[0])
table = pd.read_csv(snakemake.input.csv)
thresholds = pd.read_csv(snakemake.input.thresholds)
n_train = int(thresholds["n_train"].iloc[0])
noisy = [n for n in table["noise"].unique() if n > 0]
noise_rate = max(noisy) if noisy else 0.0
out = snakemake.output
save_figure(double_descent.plot_double_descent(table, thresholds, noise_rate), out[0], out[1])
save_figure(double_descent.plot_losses(table, thresholds, n_train), out[2], out[3])
log.info(f"wrote {list(out)}")
