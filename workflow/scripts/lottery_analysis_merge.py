"""The lottery analysis's parts as one history, its summary and the adjacency table."""
import pandas as pd

from mnist1d.experiments import lottery
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger

log = job_logger("lottery_analysis", snakemake.log[0])
p = snakemake.params.protocol
history = lottery.merge_analysis([pd.read_csv(h) for h in snakemake.input.histories], p["trials"])
store = lottery.MaskStore(snakemake.input.masks)
round_ = int(history["round"].iloc[0])
adjacency = lottery.adjacency_table(store, round_, p["trials"], p["adjacency"])
write_csv(history, snakemake.output.history)
write_csv(lottery.analysis_summary(history), snakemake.output.summary)
write_csv(adjacency, snakemake.output.adjacency)
log.info("\n" + adjacency.to_string())
