from mnist1d.pipeline import device
from mnist1d.experiments import lottery
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger
from mnist1d.store import load_dataset

threads = device.set_threads(snakemake.threads)
log = job_logger("lottery_analysis", snakemake.log[0])
where = device.select_device(snakemake.params.device, device.requested_gpus(snakemake.resources))
section = snakemake.params.analysis
store = lottery.MaskStore(snakemake.input.masks)
protocol = lottery.analysis_protocol(section)
log.info(f"analysis on {snakemake.input.data}: {protocol}, device {where}, {threads} threads, "
         f"compile {snakemake.params.compile}")
history, round_ = lottery.analyse(
    load_dataset(snakemake.input.data), store, section["sparsity"],
    snakemake.params.hidden, protocol, section["trials"], section["reinit_seed"],
    section["shuffle_seed"], section["chunk_order"], group=section.get("group"), device=where,
    compile=snakemake.params.compile, logger=log)
adjacency = lottery.adjacency_table(store, round_, section["trials"], section["adjacency"])
write_csv(history, snakemake.output.history)
write_csv(lottery.analysis_summary(history), snakemake.output.summary)
write_csv(adjacency, snakemake.output.adjacency)
log.info("\n" + adjacency.to_string())
