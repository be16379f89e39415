from mnist1d.experiments import double_descent
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import job_name, write_outputs
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("dd_train", snakemake.log[0])
protocol = snakemake.params.protocol
datasets = {noise: load_dataset(path) for noise, path in zip(protocol["job"]["noises"],
                                                             snakemake.input)}
with device.job_device(snakemake.params.device, snakemake.resources,
                       job=job_name(snakemake)) as where:
    log.info(f"device {where}, {threads} threads, compile {protocol['compile']}")
    outputs = double_descent.train_job(protocol, datasets, device=where, logger=log)
write_outputs(outputs, snakemake.output)
log.info("done")
