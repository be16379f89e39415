from mnist1d.pipeline import timing
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure

log = job_logger("timing", snakemake.log[0])
table = timing.collect(snakemake.input)
write_csv(table, snakemake.output.csv)
save_figure(timing.plot_timing(table), *snakemake.output.figure)
deps = timing.dependencies(timing.records(snakemake.params.metadata), snakemake.params.patterns)
save_figure(timing.plot_timeline(table, deps, snakemake.params.cores), *snakemake.output.timeline)
path = timing.critical_path(table, deps)
log.info("critical path: " + " -> ".join(f"{table.at[i, 'experiment']}/{table.at[i, 'job']} "
                                          f"({table.at[i, 'wall_s']:.0f} s)" for i in path))
log.info("\n" + timing.per_experiment(table).to_string(index=False))
log.info(f"run span {timing.run_span(table) / 60:.1f} min")
