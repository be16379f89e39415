import time

import numpy as np
import pandas as pd

from mnist1d.pipeline import device
from mnist1d.experiments import ssl, tsne
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure

threads = device.set_threads(snakemake.threads, torch_threads=False)   # t-SNE: no torch
log = job_logger("ssl_figure", snakemake.log[0])
cfg = snakemake.params.tsne
with np.load(snakemake.input.embeddings) as f:
    before, after, y = f["before"], f["after"], f["y"]
n = cfg["examples"]
t0 = time.perf_counter()
emb = [tsne.embed(e[:n], seed=cfg["seed"], perplexity=cfg["perplexity"], n_jobs=threads)
       for e in (before, after)]
log.info(f"two t-SNE maps of {len(y[:n])} embeddings in {time.perf_counter() - t0:.1f} s")
save_figure(ssl.plot_ssl(pd.read_csv(snakemake.input.csv), emb[0], emb[1], y[:n]), *snakemake.output)
