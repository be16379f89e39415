from mnist1d.experiments import sweeps
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import job_name, write_outputs
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("sweep", snakemake.log[0])
p = snakemake.params.protocol
with device.job_device(snakemake.params.device, snakemake.resources,
                       job=job_name(snakemake)) as where:
    log.info(f"sweep {p['sweep']}: {p['arg']} = {p['value']} ({snakemake.input[0]}); models "
             f"{list(p['models'])}, seeds {p['seeds']} as one ensemble per model, {p['engine']}, "
             f"device {where}, {threads} threads, compile {p['compile']}")
    outputs = sweeps.train_job(p, {"dataset": load_dataset(snakemake.input[0])}, device=where,
                               logger=log)
write_outputs(outputs, snakemake.output)
log.info("done")
