import pandas as pd

from mnist1d.experiments import human
from mnist1d.io import write_csv, write_text
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure

log = job_logger("human", snakemake.log[0])
p = snakemake.params.protocol
table = human.load_quiz(snakemake.input.quiz)
predictions = pd.concat([pd.read_csv(path) for path in snakemake.input.predictions],  # every
                        ignore_index=True)                                     # seed chunk
summary, classes = human.compare(table, predictions, p["model"])
per_quiz = human.quiz_accuracy(table)
write_csv(summary, snakemake.output.summary)
write_csv(per_quiz, snakemake.output.quizzes)
write_csv(classes, snakemake.output.classes)
write_text(human.markdown(summary, per_quiz, classes), snakemake.output.md)
save_figure(human.plot_class_errors(classes, summary), *snakemake.output.figure)
log.info("\n" + summary[["who", "examples", "n", "accuracy", "spread"]].to_string())
