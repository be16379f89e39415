"""One job of the lottery search: one (trial, method) member, rounds first..stop - 1."""
import os
import shutil

from mnist1d.experiments import lottery
from mnist1d.io import write_csv
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("lottery_search_segment", snakemake.log[0])
p = snakemake.params.protocol
start = lottery.MaskStore(snakemake.input.start).next_packed() if "start" in snakemake.input.keys() else None
with device.job_device(snakemake.params.device, snakemake.resources) as where:
    log.info(f"search segment on {snakemake.input.data}: trial {p['trials']} x method {p['methods']}, "
             f"rounds {p['first_round']}..{p['stop_round'] - 1} of {p['rounds']}"
             f"{' from the masks of ' + snakemake.input.start if start else ''}, {p['engine']}, "
             f"device {where}, {threads} threads, compile {p['compile']}, score_step "
             f"{p['score_step']}, rank_by {p['rank_by']}, random_ticket {p['random_ticket']}; "
             f"checkpoint {snakemake.params.checkpoint}")
    history, packed, shapes, members, grid = lottery.search(
        load_dataset(snakemake.input.data), p["hidden"], p["engine"], p["trials"], p["methods"],
        p["rounds"], device=where, compile=p["compile"],
        checkpoint_dir=snakemake.params.checkpoint, logger=log, score_step=p["score_step"],
        rank_by=p["rank_by"], random_ticket=p["random_ticket"], first_round=p["first_round"],
        stop_round=p["stop_round"], start_masks=start)
trained = p["stop_round"] - p["first_round"]
lottery.save_mask_store(snakemake.output.masks, packed[:trained], shapes, members, grid,
                        p["first_round"], packed[trained] if len(packed) > trained else None)
write_csv(history, snakemake.output.history)
shutil.rmtree(snakemake.params.checkpoint, ignore_errors=True)   # finished: nothing to resume
try:
    os.rmdir(os.path.dirname(snakemake.params.checkpoint))   # the last segment leaves no folder
except OSError:
    pass                                                      # other segments' checkpoints: kept
log.info("done")
