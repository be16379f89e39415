import time

import numpy as np

from mnist1d.pipeline import device
from mnist1d.experiments import ssl
from mnist1d.io import atomic_path, write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("ssl", snakemake.log[0])
cfg = snakemake.params.ssl
settings = {k: cfg[k] for k in ssl.DEFAULTS if k in cfg}
data = load_dataset(snakemake.input[0])
t0 = time.perf_counter()
with device.job_device(snakemake.params.device, snakemake.resources) as where:
    initial, final, history = ssl.train_ssl(data["x"], cfg["seeds"], settings, device=where,
                                            compile=snakemake.params.compile, logger=log)
log.info(f"trained in {time.perf_counter() - t0:.1f} s")
t1 = time.perf_counter()
table = ssl.probe(data, {"before": initial, "after": final}, cfg["seeds"], knn_k=cfg["knn_k"],
                  max_iter=cfg["probe_max_iter"])
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
                 y=np.concatenate([data["y"], data["y_test"]]), seed=cfg["seeds"][0])
log.info(f"done in {time.perf_counter() - t0:.1f} s")
