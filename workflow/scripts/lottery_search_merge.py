"""The lottery search's segments as one history and one mask store (what one job of every
member at once would have written)."""
import pandas as pd

from mnist1d.experiments import lottery
from mnist1d.io import write_csv
from mnist1d.pipeline.logs import job_logger

log = job_logger("lottery_search", snakemake.log[0])
p = snakemake.params.protocol
parts = [(pd.read_csv(h), lottery.MaskStore(m))
         for h, m in zip(snakemake.input.histories, snakemake.input.masks)]
history, packed, shapes, members, grid = lottery.merge_segments(parts, p["trials"], p["methods"],
                                                                p["rounds"])
lottery.save_mask_store(snakemake.output.masks, packed, shapes, members, grid)
write_csv(history, snakemake.output.history)
log.info(f"merged {len(parts)} segments: {len(history)} rows, {len(packed)} rounds of {members}")
