from mnist1d.experiments import double_descent
from mnist1d.pipeline.logs import job_logger

log = job_logger("dd_noisy_dataset", snakemake.log[0])
rate, seed, method = snakemake.params.rate, snakemake.params.seed, snakemake.params.method
data = double_descent.make_noisy_dataset(snakemake.input[0], rate, seed, snakemake.output[0],
                                         method=method)
how = ("NumPy's global stream continued after generation, as the notebook draws it"
       if method == "notebook" else f"seed {seed}")   # seed is None with notebook noise
log.info(f"{snakemake.input[0]} -> {snakemake.output[0]}: label noise {rate} ({how}); "
         f"{int((data['y'] != double_descent.store.load_dataset(snakemake.input[0])['y']).sum())} "
         f"of {len(data['y'])} training labels changed")
