from mnist1d.experiments import metalearn_lr
from mnist1d.pipeline.device import job_device, set_threads
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import job_name, write_outputs
from mnist1d.store import load_dataset

log = job_logger("metalearn_lr", snakemake.log[0])
set_threads(snakemake.threads)
protocol = dict(snakemake.params.protocol)   # metalearn_lr.protocol_from_config(config)
data = load_dataset(snakemake.input[0])
with job_device(snakemake.params.device, snakemake.resources,
                job=job_name(snakemake)) as device:
    outputs = metalearn_lr.train_job(protocol, {"dataset": data}, device=device, logger=log)
write_outputs(outputs, snakemake.output)
