from mnist1d.experiments import tsne
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import write_outputs
from mnist1d.store import load_dataset

log = job_logger("tsne_baselines", snakemake.log[0])
outputs = tsne.baselines_job(snakemake.params.protocol,
                             {"dataset": load_dataset(snakemake.input[0])}, logger=log)
write_outputs(outputs, snakemake.output)
