from mnist1d.experiments import ssl
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import job_name, write_outputs
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
p = snakemake.params.protocol
log = job_logger(f"ssl_variant_{p['variant']}", snakemake.log[0])
data = load_dataset(snakemake.input[0])
with device.job_device(snakemake.params.device, snakemake.resources,
                       job=job_name(snakemake)) as where:
    outputs = ssl.variant_job(p, {"dataset": data}, device=where, logger=log)
write_outputs(outputs, snakemake.output)
