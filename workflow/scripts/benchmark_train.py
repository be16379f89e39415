from mnist1d.experiments import benchmark
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import job_name, write_outputs
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("benchmark", snakemake.log[0])
p = snakemake.params.protocol
with device.job_device(snakemake.params.device, snakemake.resources,
                       job=job_name(snakemake)) as where:
    log.info(f"{p['model']} on {p['variant']} ({snakemake.input[0]}): seeds {p['seeds']} as one "
             f"ensemble, {p['engine']}, device {where}, {threads} threads, compile {p['compile']}")
    outputs = benchmark.train_job(p, {"dataset": load_dataset(snakemake.input[0])}, device=where,
                                  logger=log)
write_outputs(outputs, snakemake.output)
log.info("done")
