import shutil

from mnist1d.experiments import lottery
from mnist1d.io import write_csv
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("lottery_search", snakemake.log[0])
p = snakemake.params.protocol
with device.job_device(snakemake.params.device, snakemake.resources) as where:
    log.info(f"search on {snakemake.input[0]}: trials {p['trials']} x methods {p['methods']} as "
             f"one ensemble, {p['rounds']} rounds, {p['engine']}, device {where}, {threads} "
             f"threads, compile {p['compile']}, score_step {p['score_step']}, rank_by "
             f"{p['rank_by']}, random_ticket {p['random_ticket']}; checkpoint {snakemake.params.checkpoint}")
    history, packed, shapes, members, grid = lottery.search(
        load_dataset(snakemake.input[0]), p["hidden"], p["engine"], p["trials"], p["methods"],
        p["rounds"], device=where, compile=p["compile"],
        checkpoint_dir=snakemake.params.checkpoint, logger=log, score_step=p["score_step"],
        rank_by=p["rank_by"], random_ticket=p["random_ticket"])
lottery.save_mask_store(snakemake.output.masks, packed, shapes, members, grid)
write_csv(history, snakemake.output.history)
shutil.rmtree(snakemake.params.checkpoint, ignore_errors=True)   # finished: nothing to resume
log.info("done")
