from mnist1d.experiments import tsne
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

log = job_logger("tsne_baselines", snakemake.log[0])
protocol = snakemake.params.protocol
table = tsne.baselines(load_dataset(snakemake.input[0]), k=protocol["knn_k"],
                       logistic=protocol["logistic"])
write_csv(table, snakemake.output[0])
log.info("\n" + table.to_string(index=False))
