import time

import numpy as np

from mnist1d.pipeline import device
from mnist1d.experiments import ssl
from mnist1d.io import atomic_path, write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("ssl", snakemake.log[0])
p = snakemake.params.protocol
data = load_dataset(snakemake.input[0])
t0 = time.perf_counter()
with device.job_device(snakemake.params.device, snakemake.resources) as where:
    initial, final, history = ssl.train_ssl(data["x"], p["seeds"], p["settings"], device=where,
                                            compile=p["compile"], logger=log)
log.info(f"trained in {time.perf_counter() - t0:.1f} s")
t1 = time.perf_counter()
table = ssl.probe(data, {"before": initial, "after": final}, p["seeds"], knn_k=p["knn_k"],
                  max_iter=p["probe_max_iter"])
log.info(f"probes in {time.perf_counter() - t1:.1f} s\n" + table.to_string(index=False))
for line in ssl.check_targets(table):
    log.info(line)
write_csv(table, snakemake.output.csv)
write_csv(history, snakemake.output.history)
x_all = np.concatenate([data["x"], data["x_test"]])
with atomic_path(snakemake.output.embeddings) as tmp:
    with open(tmp, "wb") as f:
        np.savez(f, before=ssl.representations(initial, x_all, 0)["output"],
                 after=ssl.representations(final, x_all, 0)["output"],
                 y=np.concatenate([data["y"], data["y_test"]]), seed=p["seeds"][0])
log.info(f"done in {time.perf_counter() - t0:.1f} s")
