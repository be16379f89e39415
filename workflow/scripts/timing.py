from mnist1d.pipeline import timing
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure

log = job_logger("timing", snakemake.log[0])
table = timing.collect(snakemake.input)
write_csv(table, snakemake.output.csv)
save_figure(timing.plot_timing(table), *snakemake.output.figure)
save_figure(timing.plot_timeline(table), *snakemake.output.timeline)
log.info("\n" + timing.per_experiment(table).to_string(index=False))
log.info(f"run span {timing.run_span(table) / 60:.1f} min")
