import pandas as pd

from mnist1d.pipeline.device import job_device, set_threads
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.experiments.metalearn import metalearn_lr
from mnist1d.store import load_dataset

log = job_logger("metalearn_lr", snakemake.log[0])
set_threads(snakemake.threads)
cfg = dict(snakemake.params.cfg)
data = load_dataset(snakemake.input[0])
rows = []
with job_device(snakemake.params.device, snakemake.resources) as device:
    for start_lr in cfg["start_lrs"]:
        rows += metalearn_lr(data, start_lr, hidden=cfg["hidden"], batch_size=cfg["batch_size"],
                             inner_steps=cfg["inner_steps"], outer_steps=cfg["outer_steps"],
                             outer_lr=cfg["outer_lr"], seed=cfg["seed"], device=device,
                             log=log.info)
        log.info(f"trial from {start_lr}: final learning rate {rows[-1]['lr_next']:.4f}")
write_csv(pd.DataFrame(rows), snakemake.output[0])
