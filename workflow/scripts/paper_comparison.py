import pandas as pd

from mnist1d.experiments import paper_comparison as comparison
from mnist1d.experiments.paper_comparison_markdown import markdown
from mnist1d.io import write_csv, write_text
from mnist1d.pipeline.logs import job_logger

log = job_logger("paper_comparison", snakemake.log[0])
tables = {name: pd.read_csv(path) for name, path in snakemake.input.items()}
table = comparison.compare(tables, snakemake.params.tolerances, snakemake.params.reference_width)
write_csv(table, snakemake.output.csv)
write_text(markdown(table, snakemake.params.preset,
                    snakemake.params.tolerances.get("spread_factor", comparison.SPREAD_FACTOR)),
           snakemake.output.md)
log.info("\n" + table[["experiment", "quantity", "reproduced_mean", "verdict"]].to_string())
