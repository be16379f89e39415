import os

import pandas as pd

from mnist1d.pipeline.device import job_device, set_threads
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.experiments.metalearn_afunc import AfuncConfig, afunc_baselines, metalearn_afunc
from mnist1d.experiments.metalearn_common import keep_freed_memory
from mnist1d.store import load_dataset

log = job_logger("metalearn_afunc", snakemake.log[0])
set_threads(snakemake.threads)
keep_freed_memory()
# metalearn_afunc.protocol_from_config(config): `implementation` is already resolved (`compiled`
# runs as `fused` where the top-level `compile` is false for metalearn: quick, smoke presets)
protocol = dict(snakemake.params.protocol)
cfg = AfuncConfig.from_dict(protocol)
data = load_dataset(snakemake.input[0])
checkpoint = snakemake.params.checkpoint
os.makedirs(os.path.dirname(checkpoint), exist_ok=True)
with job_device(snakemake.params.device, snakemake.resources) as device:
    log.info(f"protocol {cfg.protocol()} on {device}; checkpoint {checkpoint}")
    result = metalearn_afunc(data, cfg, device=device, checkpoint=checkpoint, log=log.info)
    summary, curves = afunc_baselines(data, result["act_params"], cfg,
                                      names=protocol["baselines"], device=device, log=log.info,
                                      steps=result["steps"])
log.info(f"mean over the outer steps of the outer objective (the published 'learned 0.94'): "
         f"{summary[0]['mean_outer_objective']:.4f}")
write_csv(pd.DataFrame(result["steps"]), snakemake.output.steps)
write_csv(pd.DataFrame(result["samples"]), snakemake.output.function)
write_csv(pd.DataFrame(summary), snakemake.output.activations)
write_csv(pd.DataFrame(curves), snakemake.output.curves)
os.remove(checkpoint)  # the outputs now hold everything; a later run starts afresh
log.info("done")
