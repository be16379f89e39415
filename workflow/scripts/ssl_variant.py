import time

from mnist1d.pipeline import device
from mnist1d.experiments import ssl
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
p = snakemake.params.protocol
log = job_logger(f"ssl_variant_{p['variant']}", snakemake.log[0])
data = load_dataset(snakemake.input[0])
t0 = time.perf_counter()
log.info(f"model {p['variant']}: projector {p['settings']['projector']}")
with device.job_device(snakemake.params.device, snakemake.resources) as where:
    _, final, history = ssl.train_ssl(data["x"], p["seeds"], p["settings"], device=where,
                                      compile=p["compile"], logger=log)
log.info(f"trained in {time.perf_counter() - t0:.1f} s")
table = ssl.probe(data, {"after": final}, p["seeds"], knn_k=p["knn_k"],
                  max_iter=p["probe_max_iter"])
log.info(f"probes done ({time.perf_counter() - t0:.1f} s)\n" + table.to_string(index=False))
write_csv(table, snakemake.output.csv)
write_csv(history, snakemake.output.history)
