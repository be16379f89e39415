import time

import numpy as np
import pandas as pd

from mnist1d.pipeline import device
from mnist1d.experiments import tsne
from mnist1d.pipeline.logs import job_logger
from mnist1d.plotting import save_figure
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads, torch_threads=False)   # t-SNE: no torch
log = job_logger("tsne_figure", snakemake.log[0])
cfg = snakemake.params.tsne
data = load_dataset(snakemake.input.data)
x = np.concatenate([data["x"], data["x_test"]])[:cfg["examples"]]
y = np.concatenate([data["y"], data["y_test"]])[:cfg["examples"]]
t0 = time.perf_counter()
emb = tsne.embed(x, seed=cfg["seed"], perplexity=cfg["perplexity"], n_jobs=threads)
log.info(f"t-SNE of {len(x)} MNIST-1D examples in {time.perf_counter() - t0:.1f} s")
mnist = None
if snakemake.input.mnist:
    mx, my = tsne.load_mnist(snakemake.input.mnist[0], n=cfg["examples"], seed=cfg["seed"])
    mnist = (tsne.embed(mx, seed=cfg["seed"], perplexity=cfg["perplexity"], n_jobs=threads), my)
    log.info(f"t-SNE of {len(mx)} MNIST images from {snakemake.input.mnist[0]}")
else:
    log.info("no MNIST file configured (tsne.mnist_path): the MNIST panel is not produced")
save_figure(tsne.plot_tsne(emb, y, pd.read_csv(snakemake.input.baselines), mnist), *snakemake.output)
