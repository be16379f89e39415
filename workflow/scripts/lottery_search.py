import shutil

from mnist1d.pipeline import device
from mnist1d.experiments import lottery
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("lottery_search", snakemake.log[0])
where = device.select_device(snakemake.params.device, device.requested_gpus(snakemake.resources))
section = snakemake.params.search
protocol = lottery.search_protocol(section)
log.info(f"search on {snakemake.input[0]}: trials {section['trials']} x methods "
         f"{section['methods']} as one ensemble, {section['rounds']} rounds, {protocol}, device "
         f"{where}, {threads} threads, compile {snakemake.params.compile}; checkpoint "
         f"{snakemake.params.checkpoint}")
history, packed, shapes, members, grid = lottery.search(
    load_dataset(snakemake.input[0]), snakemake.params.hidden, protocol,
    section["trials"], section["methods"], section["rounds"], device=where,
    compile=snakemake.params.compile, checkpoint_dir=snakemake.params.checkpoint, logger=log)
lottery.save_mask_store(snakemake.output.masks, packed, shapes, members, grid)
write_csv(history, snakemake.output.history)
shutil.rmtree(snakemake.params.checkpoint, ignore_errors=True)   # finished: nothing to resume
log.info("done")
