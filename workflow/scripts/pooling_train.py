from mnist1d.pipeline import device
from mnist1d.experiments import pooling
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("pooling", snakemake.log[0])
section, variant = snakemake.params.pool, snakemake.params.variant
protocol = pooling.protocol_from_config(section)
datasets = {name: load_dataset(path) for name, path in zip(snakemake.params.datasets, snakemake.input)}
with device.job_device(snakemake.params.device, snakemake.resources) as where:
    log.info(f"pooling {variant}: datasets {list(datasets)}, seeds {section['seeds']}, {protocol}, "
             f"device {where}, {threads} threads, compile {snakemake.params.compile}")
    history = pooling.train_sizes(datasets, variant, section["seeds"], protocol,
                                  channels=section["channels"], device=where,
                                  compile=snakemake.params.compile,
                                  train_eval_every=section["train_eval_every"], logger=log)
write_csv(history, snakemake.output[0])
log.info("done")
