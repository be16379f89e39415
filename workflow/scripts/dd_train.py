from mnist1d.experiments import double_descent
from mnist1d.io import write_csv
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("dd_train", snakemake.log[0])
protocol = snakemake.params.protocol
job = protocol["job"]
datasets = {noise: load_dataset(path) for noise, path in zip(job["noises"], snakemake.input)}
with device.job_device(snakemake.params.device, snakemake.resources) as where:
    log.info(f"device {where}, {threads} threads, compile {protocol['compile']}")
    history = double_descent.train_job(job, datasets, protocol, device=where,
                                       compile=protocol["compile"], logger=log)
write_csv(history, snakemake.output[0])
log.info("done")
