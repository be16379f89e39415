import os

from mnist1d.experiments import metalearn_afunc
from mnist1d.pipeline.device import job_device, set_threads
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import job_name, write_outputs
from mnist1d.store import load_dataset

log = job_logger("metalearn_afunc", snakemake.log[0])
set_threads(snakemake.threads)
# metalearn_afunc.protocol_from_config(config): `implementation` is already resolved (`compiled`
# runs as `fused` where the top-level `compile` is false for metalearn: quick, smoke presets)
protocol = dict(snakemake.params.protocol)
data = load_dataset(snakemake.input[0])
checkpoint = snakemake.params.checkpoint
with job_device(snakemake.params.device, snakemake.resources,
                job=job_name(snakemake)) as device:
    outputs = metalearn_afunc.train_job(protocol, {"dataset": data}, device=device, logger=log,
                                        checkpoint=checkpoint)
write_outputs(outputs, snakemake.output)
os.remove(checkpoint)  # the outputs now hold everything; a later run starts afresh
log.info("done")
