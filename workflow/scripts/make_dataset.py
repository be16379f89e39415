from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import save_dataset
from mnist1d.utils import ObjectView

log = job_logger("dataset", snakemake.log[0])
args = get_dataset_args(as_dict=True) | dict(snakemake.params.args)
log.info(f"making {snakemake.output[0]} with {args}")
save_dataset(make_dataset(ObjectView(args)), args, snakemake.output[0])
log.info("done")
