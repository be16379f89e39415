import pandas as pd

from mnist1d.experiments import lottery
from mnist1d.io import write_csv, write_text
from mnist1d.pipeline.logs import job_logger

log = job_logger("lottery_tables", snakemake.log[0])
results = lottery.final_results(pd.read_csv(snakemake.input.search))
summary = pd.read_csv(snakemake.input.analysis)
adjacency = pd.read_csv(snakemake.input.adjacency)
write_csv(results, snakemake.output.search)
write_csv(lottery.sweep_table(results), snakemake.output.sweep)
targets = lottery.check_targets(results, summary, adjacency)
text = lottery.targets_markdown(targets, f"preset {snakemake.params.preset}")
write_text(text, snakemake.output.targets)
log.info("\n" + text)
analysis = lottery.analysis_markdown(summary, adjacency, f"preset {snakemake.params.preset}")
write_text(analysis, snakemake.output.analysis)
log.info("\n" + analysis)
