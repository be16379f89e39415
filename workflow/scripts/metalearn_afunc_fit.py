import pandas as pd

from mnist1d.experiments import afunc_fit
from mnist1d.io import write_csv
from mnist1d.pipeline.device import job_device, set_threads
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

log = job_logger("metalearn_afunc_fit", snakemake.log[0])
set_threads(snakemake.threads)
protocol = snakemake.params.protocol
data = load_dataset(snakemake.input.dataset)
with job_device(snakemake.params.device, snakemake.resources) as device:
    log.info(f"knots {protocol['knots']}, continuous {protocol['continuous']} on {device}")
    table, pieces, samples, curves = afunc_fit.fit_and_train(
        pd.read_csv(snakemake.input.function), pd.read_csv(snakemake.input.activations), data,
        protocol, device=device, log=log.info)
write_csv(table, snakemake.output.table)
write_csv(pieces, snakemake.output.pieces)
write_csv(samples, snakemake.output.samples)
write_csv(curves, snakemake.output.curves)
log.info("\n" + table.to_string(index=False))
