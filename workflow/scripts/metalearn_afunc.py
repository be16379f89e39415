import os

import pandas as pd

from mnist1d.pipeline.device import job_device, set_threads
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.experiments.metalearn import (AfuncConfig, afunc_baselines, keep_freed_memory, metalearn_afunc,
                               resolve_implementation)
from mnist1d.store import load_dataset

log = job_logger("metalearn_afunc", snakemake.log[0])
set_threads(snakemake.threads)
keep_freed_memory()
cfg = AfuncConfig.from_dict(snakemake.params.cfg)
# `compiled` runs as `fused` where the top-level `compile` is false (quick, smoke presets)
cfg.implementation = resolve_implementation(cfg.implementation, snakemake.params.compile)
data = load_dataset(snakemake.input[0])
checkpoint = snakemake.params.checkpoint
os.makedirs(os.path.dirname(checkpoint), exist_ok=True)
with job_device(snakemake.params.device, snakemake.resources) as device:
    log.info(f"protocol {cfg.protocol()} on {device}; checkpoint {checkpoint}")
    result = metalearn_afunc(data, cfg, device=device, checkpoint=checkpoint, log=log.info)
    summary, curves = afunc_baselines(data, result["act_params"], cfg,
                                      names=snakemake.params.cfg["baselines"], device=device,
                                      log=log.info)
write_csv(pd.DataFrame(result["steps"]), snakemake.output.steps)
write_csv(pd.DataFrame(result["samples"]), snakemake.output.function)
write_csv(pd.DataFrame(summary), snakemake.output.activations)
write_csv(pd.DataFrame(curves), snakemake.output.curves)
os.remove(checkpoint)  # the outputs now hold everything; a later run starts afresh
log.info("done")
