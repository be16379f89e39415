"""Lottery tickets (the paper's lottery-ticket figure; protocol of the reference notebook
lottery-tickets.ipynb): the sparsity sweep and the spatial-prior analysis.

The model is the benchmark MLP (40 -> 500 -> 500 -> 10, residual second layer) with a 0/1 mask on
every weight and bias, applied in every forward pass (mnist1d.train's `masks`).

Where things are (every public name is importable from here: `lottery.search`, ...):
- `protocol`: names of methods, conditions and networks, the model (`spec_of`), the sparsity
  grid, the analysis seeds and `protocol_from_config` (what the rule files call);
- `masks`: the next round's masks from the scores (`next_masks`) and the bit-packed mask store
  (`SearchMasks`: what a search job returns for it);
- `pruning`: the search (`search`), its plain one-network reference (`search_plain`) and its
  split into jobs (`search_segments`, `merge_segments`);
- `analysis`: the analysis at about 92 % sparsity (`analyse`) and the adjacency of first-layer
  masks (`adjacency_table`);
- `jobs`: the training jobs of the pipeline as job functions (mnist1d.experiments): one search
  segment (`segment_job`) and one analysis part (`part_job`), and what those jobs are, in the
  pieces of config key `jobs.pieces` (`search_plan`, `analysis_plan`);
- `tables` and `figures`: what a reader gets.

No submodule imports torch at import time: the figure, table and aggregation jobs and
Snakemake's own process import this package without it (tests/test_startup.py).
"""
from mnist1d.experiments.lottery.analysis import (adjacency, adjacency_table, analyse,
                                                  analysis_members, analysis_parts,
                                                  analysis_setup, analysis_summary,
                                                  chance_adjacency, merge_analysis, part_pairs,
                                                  notebook_adjacency, notebook_adjacency_note,
                                                  notebook_permutation, shuffle_permutation,
                                                  unit_order, view_of)
from mnist1d.experiments.lottery.figures import (plot_adjacency, plot_asymptotes, plot_masks,
                                                 plot_summary, plot_sweep)
from mnist1d.experiments.lottery.jobs import (analysis_plan, analysis_round, part_job,
                                              remove_checkpoint, search_plan, segment_job,
                                              segment_protocol)
from mnist1d.experiments.lottery.masks import (MaskStore, SearchMasks, keep_count, next_masks,
                                               pack, random_scores, ranking_units,
                                               save_mask_store, unpack)
from mnist1d.experiments.lottery.protocol import (ANALYSIS_GROUP, COLORS, CONDITION_LABELS,
                                                  CONDITIONS, INITS, METHODS, NETWORK_LABELS,
                                                  GPU_ANALYSIS_GROUP, NETWORKS, PARTS,
                                                  RANDOM_TICKETS, RANK_BY,
                                                  SHUFFLES, TICKET, analysis_seeds,
                                                  check_search_settings, nearest_round,
                                                  protocol_from_config, sparsity_grid, spec_of)
from mnist1d.experiments.lottery.pruning import (GPU_ROUNDS_PER_JOB, ROUNDS_PER_JOB,
                                                 final_results, members_of,
                                                 merge_segments, search, search_plain,
                                                 search_segments, segment_with_round)
from mnist1d.experiments.lottery.tables import (analysis_markdown, analysis_means, check_targets,
                                                sweep_table, targets_markdown)

__all__ = [
    # protocol
    "ANALYSIS_GROUP", "COLORS", "CONDITION_LABELS", "CONDITIONS", "GPU_ANALYSIS_GROUP", "INITS",
    "METHODS",
    "NETWORK_LABELS", "NETWORKS", "PARTS", "RANDOM_TICKETS", "RANK_BY", "SHUFFLES", "TICKET",
    "analysis_seeds",
    "check_search_settings", "nearest_round", "protocol_from_config", "sparsity_grid", "spec_of",
    # masks
    "MaskStore", "SearchMasks", "keep_count", "next_masks", "pack", "random_scores",
    "ranking_units", "save_mask_store", "unpack",
    # pruning (the search)
    "GPU_ROUNDS_PER_JOB", "ROUNDS_PER_JOB", "final_results", "members_of", "merge_segments",
    "search", "search_plain", "search_segments", "segment_with_round",
    # analysis
    "adjacency", "adjacency_table", "analyse", "analysis_members", "analysis_parts",
    "analysis_setup", "analysis_summary", "chance_adjacency", "merge_analysis",
    "notebook_adjacency", "notebook_adjacency_note", "notebook_permutation", "part_pairs",
    "shuffle_permutation", "unit_order", "view_of",
    # the jobs
    "analysis_plan", "analysis_round", "part_job", "remove_checkpoint", "search_plan",
    "segment_job", "segment_protocol",
    # tables and figures
    "analysis_markdown", "analysis_means", "check_targets", "sweep_table", "targets_markdown",
    "plot_adjacency", "plot_asymptotes", "plot_masks", "plot_summary", "plot_sweep",
]
