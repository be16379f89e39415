import pandas as pd

from mnist1d.experiments import double_descent
from mnist1d.io import write_csv, write_text
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

log = job_logger("dd_aggregate", snakemake.log[0])
history = double_descent.combine([pd.read_csv(path) for path in snakemake.input.runs])
n_train = len(load_dataset(snakemake.input.data)["x"])
table = double_descent.aggregate(history)
thresholds = double_descent.find_thresholds(table, n_train, snakemake.params.threshold_tolerance)
summary = double_descent.summary_markdown(table, thresholds, n_train, snakemake.params.reference_width,
                                          label_noise=snakemake.params.label_noise)
write_csv(history, snakemake.output.history)
write_csv(table, snakemake.output.csv)
write_csv(thresholds, snakemake.output.thresholds)
write_text(summary, snakemake.output.md)
log.info("\n" + summary)
