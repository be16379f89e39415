"""One job of the lottery analysis: one trial's networks of one kind, its conditions as one ensemble."""
from mnist1d.experiments import lottery
from mnist1d.io import write_csv
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("lottery_analysis_part", snakemake.log[0])
p = snakemake.params.protocol
store = lottery.MaskStore(snakemake.input.masks) if "masks" in snakemake.input.keys() else None
with device.job_device(snakemake.params.device, snakemake.resources) as where:
    log.info(f"analysis part {p['part']} on {snakemake.input.data}: {p}, device {where}, "
             f"{threads} threads")
    history, round_ = lottery.analyse(
        load_dataset(snakemake.input.data), store, p["sparsity"], p["hidden"], p["engine"],
        p["trials"], p["reinit_seed"], p["shuffle_seed"], p["chunk_order"], group=p["group"],
        device=where, compile=p["compile"], logger=log, init=p["init"], init_seed=p["init_seed"],
        shuffle=p["shuffle"], part=p["part"], grid=p["grid"])
write_csv(history, snakemake.output.history)
log.info("done")
