"""One job of the lottery search: one (trial, method) member (with jobs.pieces gpu: every trial of
a method), rounds first..stop - 1 (rule lottery_search_segment; sensitivity_lottery_search: every
member and round)."""
from mnist1d.experiments import lottery
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.pipeline.script import job_name, write_outputs
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("lottery_search_segment", snakemake.log[0])
inputs = {"dataset": load_dataset(snakemake.input.data)}
if "start" in snakemake.input.keys():
    inputs["start"] = lottery.MaskStore(snakemake.input.start)
checkpoint = snakemake.params.checkpoint
with device.job_device(snakemake.params.device, snakemake.resources,
                       job=job_name(snakemake)) as where:
    log.info(f"inputs {list(snakemake.input)}, device {where}, {threads} threads")
    outputs = lottery.segment_job(snakemake.params.protocol, inputs, device=where, logger=log,
                                  checkpoint=checkpoint)
write_outputs(outputs, snakemake.output)   # masks: a compressed mask store (SearchMasks.save)
lottery.remove_checkpoint(checkpoint)   # finished: nothing to resume
log.info("done")
