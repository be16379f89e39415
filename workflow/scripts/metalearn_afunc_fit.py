import pandas as pd

from mnist1d.experiments import afunc_fit
from mnist1d.pipeline.device import job_device, set_threads
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import job_name, write_outputs
from mnist1d.store import load_dataset

log = job_logger("metalearn_afunc_fit", snakemake.log[0])
set_threads(snakemake.threads)
inputs = {"dataset": load_dataset(snakemake.input.dataset),
          "function": pd.read_csv(snakemake.input.function),
          "activations": pd.read_csv(snakemake.input.activations)}
with job_device(snakemake.params.device, snakemake.resources,
                job=job_name(snakemake)) as device:
    outputs = afunc_fit.fit_job(snakemake.params.protocol, inputs, device=device, logger=log)
write_outputs(outputs, snakemake.output)
