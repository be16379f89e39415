from mnist1d import train
from mnist1d.experiments import benchmark
from mnist1d.io import write_csv
from mnist1d.pipeline import device
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("benchmark", snakemake.log[0])
p = snakemake.params.protocol
with device.job_device(snakemake.params.device, snakemake.resources) as where:
    log.info(f"{p['model']} on {p['variant']} ({snakemake.input[0]}): seeds {p['seeds']} as one "
             f"ensemble, {p['engine']}, device {where}, {threads} threads, compile {p['compile']}")
    data = load_dataset(snakemake.input[0])
    history, params = train.train(data, p["spec"], p["engine"], p["seeds"],
                                  device=where, compile=p["compile"], logger=log)
    predictions = benchmark.test_predictions(p["spec"], params, data, p["seeds"])
write_csv(benchmark.label_history(history, p["model"], p["variant"]), snakemake.output[0])
write_csv(predictions, snakemake.output.predictions)
log.info("done")
