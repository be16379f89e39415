"""Seeds spread over jobs: a config section's `seeds_per_job` (benchmark, pooling, double descent).

A fan-out experiment trains all its seeds as one ensemble per job by default. With
`seeds_per_job: N` the seeds list is cut into consecutive chunks of at most N seeds, each chunk
one job (one ensemble), so that a study with 50 seeds spreads over a cluster's GPUs.

A chunk is named by a tag that is part of the job's file names:

* `seeds_per_job` absent or null: one chunk of every seed, tag "" (the file names of a run
  without the setting: `history_cnn_normal.csv`);
* `seeds_per_job: N`: tag `_seeds{first}-{last}` (first and last seed of the chunk), or
  `_seed{s}` for a chunk of one seed (`history_cnn_normal_seeds0-9.csv`,
  `history_cnn_normal_seed3.csv`).

Tags name seeds, not chunk positions, so appending seeds to the list (with `seeds_per_job` set)
leaves the names and the protocols of the full chunks before it unchanged: Snakemake plans only
the new chunks (and the aggregation). Aggregation reads every chunk and puts the rows back in the
order of the unsplit job (`in_first_seen_order`), so its tables do not depend on the setting.
"""

import re

import pandas as pd


def seeds_per_job(section, key=""):
    """The section's `seeds_per_job` (None: all seeds in one job); stops on a bad value."""
    value = section.get("seeds_per_job")
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)                  # the schema's "integer" admits 2.0
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"config key '{key + '.' if key else ''}seeds_per_job': {value!r} is not "
                         "an integer >= 1 (or null: all seeds in one job)")
    return value


def seed_chunks(seeds, per_job=None):
    """`seeds` cut into consecutive chunks of at most `per_job` (None: one chunk of all)."""
    seeds = [int(s) for s in seeds]
    if per_job is None:
        return [seeds]
    return [seeds[i:i + per_job] for i in range(0, len(seeds), per_job)]


def chunk_tag(chunk, per_job=None):
    """The file-name tag of one chunk of seeds (see the module docstring)."""
    if per_job is None:
        return ""
    if len(chunk) == 1:
        return f"_seed{chunk[0]}"
    return f"_seeds{chunk[0]}-{chunk[-1]}"


def chunks_of(section, key=""):
    """{tag: seeds of that chunk} of a config section (its `seeds` and `seeds_per_job`), in the
    order of the seeds."""
    per_job = seeds_per_job(section, key)
    out = {}
    for chunk in seed_chunks(section["seeds"], per_job):
        tag = chunk_tag(chunk, per_job)
        if tag in out:
            raise ValueError(f"config key '{key + '.' if key else ''}seeds': two chunks of "
                             f"seeds_per_job {per_job} are both named {tag!r}; give distinct seeds")
        out[tag] = chunk
    return out


def chunk_seeds(section, tag, key=""):
    """The seeds of the chunk named `tag` of a config section."""
    chunks = chunks_of(section, key)
    if tag not in chunks:
        raise ValueError(f"config key '{key + '.' if key else ''}seeds': no chunk {tag!r} of "
                         f"seeds {section['seeds']} with seeds_per_job "
                         f"{section.get('seeds_per_job')} (chunks: {list(chunks)})")
    return chunks[tag]


def wildcard_pattern(section, key=""):
    """A regular expression matching exactly the chunk tags of a section (the empty tag too:
    never the empty string itself, which Snakemake reads as no constraint)."""
    return "(?:" + "|".join(re.escape(tag) for tag in chunks_of(section, key)) + ")"


def in_first_seen_order(frame, columns, numeric=()):
    """`frame`'s rows stably sorted by `columns`, each value ranked where it first appears (the
    `numeric` ones among them by value).

    Aggregation concatenates the chunks' files job after job; this puts the rows back in the
    order one unsplit job writes (and leaves that order unchanged when there is one chunk)."""
    if frame.empty:
        return frame.reset_index(drop=True)
    ranks = {c: {v: i for i, v in enumerate(pd.unique(frame[c]))} for c in columns
             if c not in numeric}
    return frame.sort_values(list(columns), kind="stable",
                             key=lambda s: s.map(ranks[s.name]) if s.name in ranks else s
                             ).reset_index(drop=True)
