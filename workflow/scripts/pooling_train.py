from mnist1d.experiments import pooling
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import job_name, write_outputs
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("pooling", snakemake.log[0])
p = snakemake.params.protocol
datasets = {name: load_dataset(path) for name, path in zip(p["datasets"], snakemake.input)}
with device.job_device(snakemake.params.device, snakemake.resources,
                       job=job_name(snakemake)) as where:
    log.info(f"pooling {p['variant']}: datasets {list(datasets)}, seeds {p['seeds']}, "
             f"{p['engine']}, device {where}, {threads} threads, compile {p['compile']}")
    outputs = pooling.train_job(p, datasets, device=where, logger=log)
write_outputs(outputs, snakemake.output)
log.info("done")
