"""One job of the lottery analysis: one trial's networks of one kind (with jobs.pieces gpu: every
trial's), its conditions as one ensemble (rules lottery_analysis_part,
sensitivity_lottery_analysis_part)."""
from mnist1d.experiments import lottery
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import job_name, write_outputs
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("lottery_analysis_part", snakemake.log[0])
inputs = {"dataset": load_dataset(snakemake.input.data)}
if "masks" in snakemake.input.keys():
    inputs["masks"] = lottery.MaskStore(snakemake.input.masks)
with device.job_device(snakemake.params.device, snakemake.resources,
                       job=job_name(snakemake)) as where:
    log.info(f"inputs {list(snakemake.input)}, device {where}, {threads} threads")
    outputs = lottery.part_job(snakemake.params.protocol, inputs, device=where, logger=log)
write_outputs(outputs, snakemake.output)
log.info("done")
