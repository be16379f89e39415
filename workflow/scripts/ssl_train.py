import time

from mnist1d.experiments import ssl
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import job_name, write_outputs
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("ssl", snakemake.log[0])
p = snakemake.params.protocol
data = load_dataset(snakemake.input[0])
t0 = time.perf_counter()
with device.job_device(snakemake.params.device, snakemake.resources,
                       job=job_name(snakemake)) as where:
    outputs = ssl.train_job(p, {"dataset": data}, device=where, logger=log)
write_outputs(outputs, snakemake.output)
log.info(f"done in {time.perf_counter() - t0:.1f} s")
