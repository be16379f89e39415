import pandas as pd

from mnist1d.experiments import benchmark
from mnist1d.io import write_csv, write_text
from mnist1d.pipeline.logs import job_logger

log = job_logger("benchmark_summary", snakemake.log[0])
history = benchmark.combine([pd.read_csv(path) for path in snakemake.input])
summary = benchmark.summarise(history)
write_csv(history, snakemake.output.history)
write_csv(summary, snakemake.output.csv)
write_text(benchmark.markdown(summary, snakemake.params.models), snakemake.output.md)
log.info("\n" + benchmark.markdown(summary, snakemake.params.models))
