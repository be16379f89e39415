from mnist1d.experiments import benchmark
from mnist1d.pipeline import device
from mnist1d import train
from mnist1d.pipeline.logs import job_logger
from mnist1d.io import write_csv
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("benchmark", snakemake.log[0])
model, variant, seeds = snakemake.params.model, snakemake.params.variant, snakemake.params.seeds
protocol = benchmark.protocol_from_config(snakemake.params.bench)
with device.job_device(snakemake.params.device, snakemake.resources) as where:
    log.info(f"{model} on {variant} ({snakemake.input[0]}): seeds {seeds} as one ensemble, "
             f"{protocol}, device {where}, {threads} threads, compile {snakemake.params.compile}")
    history, _ = train.train(load_dataset(snakemake.input[0]), model, protocol, seeds, device=where,
                             compile=snakemake.params.compile, logger=log)
write_csv(benchmark.label_history(history, model, variant), snakemake.output[0])
log.info("done")
