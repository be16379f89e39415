import pandas as pd

from mnist1d.experiments import benchmark
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure

log = job_logger("benchmark_figure", snakemake.log[0])
save_figure(benchmark.plot_benchmark(pd.read_csv(snakemake.input[0])), *snakemake.output)
log.info(f"wrote {snakemake.output}")
