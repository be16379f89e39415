from mnist1d.experiments import sensitivity
from mnist1d.io import write_csv, write_text
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure

log = job_logger("sensitivity_table", snakemake.log[0])
rows = []
for name, run in snakemake.params.runs.items():
    experiment = run["facts"]["experiment"]
    paper = sensitivity.findings(experiment, run["paper"])
    alternative = sensitivity.findings(experiment, run["alternative"], run["random_from"])
    rows += sensitivity.compare(run["facts"], paper, alternative)
df = sensitivity.table(rows)
write_csv(df, snakemake.output.csv)
text = sensitivity.markdown(df, snakemake.params.preset)
write_text(text, snakemake.output.md)
save_figure(sensitivity.plot(df), *snakemake.output.figure)
log.info("\n" + text)
