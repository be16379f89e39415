"""Compare the result tables of pipeline runs: two result folders exactly, or a folder with a
recorded run within stated tolerances.

The tables of a result folder (`tables`) are its CSV/TSV tables, `.npz` arrays and `.md` texts;
logs, per-job timing files, the timing table, the resolved config.yaml and figures are left out:
they differ from run to run by design.

Exactly (`compare_folders`, `difference`): the same computation on the same machine, thread count
and torch gives the same bits, so two runs of one preset, before and after a change that should
not move a number (a refactoring, a new job split), must agree exactly: tables after dropping
their timing columns (`TIMING`), arrays and text.

Within tolerances (`record`, `save_record`, `load_record`, `check_record`): float32 training on
another CPU (other vector kernels, another BLAS code path) rounds differently, and training
amplifies the rounding, so a run on another machine is compared with a record of the values
instead of their bits. A record keeps every table's values (JSON, gzip'd), the small arrays'
values and a summary of the large ones, and each text's words with its numbers apart. The values
are compared by kind (`table_column_kind`, `array_kind`, `TOLERANCES`): inputs and bookkeeping
(seeds, steps, sizes, labels, text, the generated datasets) must be equal, results of training
must lie within the tolerance of their kind. `describe_tolerances()` lists them.

One computation on two devices (`frame_comparison`, `frame_set_comparison`; used by
benchmarks/gpu_check.py): the same training jobs run on the CPU and on a GPU, their tables compared
column by column with the same kinds, in detail (values compared, largest absolute and relative
difference, values outside), within a named tolerance set: `DEVICE_TOLERANCES` in float32,
`FLOAT64_TOLERANCES` (1e-9 relative, accuracies exactly) when both devices train in float64.
"""
import gzip
import hashlib
import json
import math
import platform
import re
from pathlib import Path

import numpy as np
import pandas as pd

SKIP_PARTS = {"logs", "timing", ".snakemake"}
SKIP_NAMES = {"timing.csv", "config.yaml"}
SUFFIXES = (".csv", ".tsv", ".npz", ".md")
# columns that hold wall-clock time, dates or host names: never compared
TIMING = re.compile(r"(^|_)(seconds|elapsed|wall|duration|hostname|start|end|s)$|^wall_s$|^cpu_s$")

RECORD_FORMAT = "mnist1d result record"
RECORD_VERSION = 1


def tables(root):
    """{path relative to `root` (str, '/'-separated): Path} of every compared file under `root`."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in SUFFIXES and p.name not in SKIP_NAMES
            and not SKIP_PARTS & set(p.relative_to(root).parts)}


def read_table(path):
    """A CSV/TSV table as a DataFrame without its timing columns."""
    path = Path(path)
    frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
    return frame[[c for c in frame.columns if not TIMING.search(str(c))]]


# --- exact comparison ----------------------------------------------------------------------------

def difference(a, b):
    """'' when files `a` and `b` hold the same results exactly, else a short description."""
    a, b = Path(a), Path(b)
    if a.suffix == ".npz":
        with np.load(a, allow_pickle=False) as left, np.load(b, allow_pickle=False) as right:
            if sorted(left.files) != sorted(right.files):
                return f"arrays {sorted(left.files)} vs {sorted(right.files)}"
            bad = [k for k in left.files if not np.array_equal(left[k], right[k])]
        return f"arrays differ: {bad}" if bad else ""
    if a.suffix == ".md":
        return "" if a.read_text() == b.read_text() else "text differs"
    try:
        pd.testing.assert_frame_equal(read_table(a), read_table(b), check_exact=True)
    except AssertionError as err:
        return " ".join(str(err).split())[:300]
    return ""


def compare_folders(before, after):
    """(problems, identical) of two result folders compared exactly: a line per file that is in
    one folder only or differs, and how many files are identical."""
    left, right = tables(before), tables(after)
    problems = [f"only in {before}: {name}" for name in sorted(set(left) - set(right))]
    problems += [f"only in {after}: {name}" for name in sorted(set(right) - set(left))]
    identical = 0
    for name in sorted(set(left) & set(right)):
        diff = difference(left[name], right[name])
        if diff:
            problems.append(f"differs: {name}: {diff}")
        else:
            identical += 1
    return problems, identical


# --- tolerances ----------------------------------------------------------------------------------

# kind -> (relative, absolute): a value b passes against the recorded a when
# |a - b| <= relative * |a| + absolute (tests/pipeline/test_smoke_outputs.py says why these)
TOLERANCES = {
    "key": (1e-9, 1e-12),
    "generated": (0.0, 1e-9),
    "accuracy": (0.0, 3.0),
    "probe_accuracy": (0.0, 10.0),
    "spread": (0.5, 3.0),
    "loss": (0.05, 0.01),
    "value": (0.1, 0.02),
    "learning_rate": (0.01, 0.0),
    "text_number": (0.1, 4.0),
    "trained_array": (0.1, 0.0),
}
# share of the entries that may differ, for integer results of training
SHARES = {"prediction": 0.1, "mask": 0.05}

# float columns that are inputs or bookkeeping of the computation, not results of training
KEY_FLOAT_COLUMNS = {"sparsity", "kept", "noise", "epoch", "start_lr", "x", "lo", "hi",
                     "published_value", "published_test_acc", "tolerance", "spread_factor"}
# integer columns that are results of training, where a few entries may differ (other integers
# derived from training, such as double descent's threshold sizes, did not move with other
# kernels and are compared exactly)
TRAINED_INTEGER_COLUMNS = {"prediction"}
LEARNING_RATE_COLUMNS = {"lr", "lr_next"}
# tables of accuracies measured on few examples, or of a classifier fitted to trained outputs
# (SSL's kNN and linear probes; the human baseline's per-class errors, about 40 examples a class):
# one example more or less right moves them by points. Their numbers are `probe_accuracy`.
PROBE_TABLES = ("ssl/", "human/class_errors.csv")


def table_column_kind(name, values, table=""):
    """How column `name` (a pandas Series `values`) of the table `table` (its path in the result
    folder) is compared: 'label' (text and booleans, equal), 'integer' (equal), 'prediction' (a
    share may differ: SHARES) or a key of TOLERANCES."""
    lower = str(name).lower()
    probe = str(table).startswith(PROBE_TABLES)
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "label"
    if pd.api.types.is_integer_dtype(values):
        return "prediction" if lower in TRAINED_INTEGER_COLUMNS else "integer"
    if lower in KEY_FLOAT_COLUMNS:
        return "key"
    if lower in LEARNING_RATE_COLUMNS:
        return "learning_rate"
    if "loss" in lower:
        return "loss"
    if probe:
        return "probe_accuracy"
    if lower in ("std", "spread") or lower.endswith("_std"):
        return "spread"
    if "acc" in lower or "error" in lower:
        return "accuracy"
    return "value"


def array_kind(file_name, key, array):
    """How array `key` of the .npz file `file_name` (relative to the result folder) is compared:
    'generated' (a dataset's inputs: made by NumPy/numba in float64, equal up to the last bits),
    'mask' (a lottery mask: a share may differ), 'trained_array' (a network's outputs: relative
    to the norm), 'integer' or 'label' (equal)."""
    if key.startswith(("mask/", "next/")):
        return "mask"
    if array.dtype.kind in "iub":
        return "integer"
    if array.dtype.kind in "fc":
        if "/data/" in f"/{file_name}":
            return "generated"
        return "key" if key in KEY_FLOAT_COLUMNS else "trained_array"
    return "label"


def describe_tolerances():
    """One line per kind: what it holds and how it is compared."""
    lines = ["label, integer: text, booleans and integer columns (seeds, steps, sizes, counts, "
             "row keys) must be equal, and so must the rows of every table"]
    for kind, share in SHARES.items():
        lines.append(f"{kind}: at most {share:.0%} of the entries may differ")
    for kind, (rel, abs_) in TOLERANCES.items():
        lines.append(f"{kind}: |a - b| <= {rel:g} |a| + {abs_:g}"
                     + (" (|a - b| and |a| as norms over the array)" if kind == "trained_array"
                        else ""))
    return lines


def within(kind, a, b, tolerances=None):
    """Boolean array: values b within the tolerance of `kind` (in `tolerances`, by default
    TOLERANCES) of the recorded a (NaN only against NaN, infinities equal)."""
    rel, abs_ = (tolerances or TOLERANCES)[kind]
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= rel * np.abs(a) + abs_
    return close | (np.isnan(a) & np.isnan(b)) | ((a == b) & np.isinf(a))


# --- a record of a result folder -----------------------------------------------------------------

SAMPLE = 1000          # entries kept of a float array larger than SMALL_ARRAY
SMALL_ARRAY = 8192     # arrays up to this many entries are recorded whole
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\b(?:nan|inf)\b")


def encode_values(values):
    """JSON values of a column or flattened array: floats as Python floats (exact; NaN and the
    infinities as strings), integers as ints, anything else as str."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return [float(v) if math.isfinite(v) else str(float(v)) for v in values.tolist()]
    if values.dtype.kind in "iub":
        return [int(v) for v in values.tolist()]
    return [str(v) for v in values.tolist()]


def decode_values(values):
    return [float(v) if isinstance(v, str) and v in ("nan", "inf", "-inf") else v for v in values]


def record_frame(frame):
    """The record of one table (a DataFrame): its columns' names, types and values."""
    columns = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            kind, values = "bool", [bool(v) for v in column]
        elif pd.api.types.is_integer_dtype(column):
            kind, values = "int", encode_values(column.to_numpy())
        elif pd.api.types.is_numeric_dtype(column):
            kind, values = "float", encode_values(column.to_numpy(dtype=np.float64))
        else:
            kind, values = "text", [None if pd.isna(v) else str(v) for v in column]
        columns.append([str(name), kind, values])
    return {"type": "table", "rows": len(frame), "columns": columns}


def record_table(path):
    return record_frame(read_table(path))


def record_array(array):
    entry = {"dtype": str(array.dtype), "shape": list(array.shape)}
    flat = array.reshape(-1)
    if flat.size <= SMALL_ARRAY:
        entry["values"] = encode_values(flat)
    elif array.dtype.kind == "f":
        index = np.linspace(0, flat.size - 1, SAMPLE).round().astype(np.int64)
        entry["sample"] = encode_values(flat[index])
        entry["sum"] = float(flat.sum(dtype=np.float64))
        entry["norm"] = float(np.linalg.norm(flat.astype(np.float64)))
    else:
        entry["sha256"] = hashlib.sha256(np.ascontiguousarray(flat).tobytes()).hexdigest()
    return entry


def record_arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {"type": "arrays", "arrays": {key: record_array(z[key]) for key in sorted(z.files)}}


def record_text(path):
    text = Path(path).read_text()
    return {"type": "text", "skeleton": NUMBER.sub("#", text),
            "numbers": encode_values(np.array([float(n) for n in NUMBER.findall(text)]))}


def record(root, **about):
    """A record of every table under `root`: a JSON-able dict (see check_record)."""
    readers = {".csv": record_table, ".tsv": record_table, ".npz": record_arrays,
               ".md": record_text}
    return {"format": RECORD_FORMAT, "version": RECORD_VERSION, "machine": machine(), **about,
            "tolerances": describe_tolerances(),
            "tables": {name: readers[path.suffix](path) for name, path in tables(root).items()}}


def save_record(path, rec):
    """Write a record as gzip'd JSON (deterministic bytes: no time stamp in the gzip header)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(rec, separators=(",", ":"), sort_keys=True).encode()
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                compresslevel=9, filename="") as f:
        f.write(data)
    return path.stat().st_size


def read_versioned_json(path, fmt, version, what, remake="make it again"):
    """The gzip'd JSON document at `path` whose "format" is `fmt` and "version" `version` (a
    record here, gpu_check's saved tables); a ValueError saying the file is not `what`
    otherwise."""
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not {what}: {err}")
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise ValueError(f"{path} is not {what}")
    if doc.get("version") != version:
        raise ValueError(f"{path} is version {doc.get('version')} of {what}, this code reads "
                         f"version {version}: {remake}")
    return doc


def load_record(path):
    """A record written by save_record; ValueError for a file that is not one."""
    return read_versioned_json(path, RECORD_FORMAT, RECORD_VERSION, "a result record",
                               remake="record it again")


def outside_share(kind, a, b, where):
    """A problem line when more than the kind's share of entries differ, else None."""
    a, b = np.asarray(a), np.asarray(b)
    differ = int((a != b).sum())
    if differ > SHARES[kind] * a.size:
        return f"{where}: {differ} of {a.size} differ (at most {SHARES[kind]:.0%} may)"
    return None


def compare_values(kind, a, b, where, tolerances=None):
    """Problem lines of values b against the recorded a, compared as `kind`."""
    if kind in ("label", "integer"):
        differ = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        if differ:
            i = differ[0]
            return [f"{where}: {len(differ)} of {len(a)} differ (first at {i}: recorded "
                    f"{a[i]!r}, now {b[i]!r})"]
        return []
    if kind in SHARES:
        line = outside_share(kind, a, b, where)
        return [line] if line else []
    a, b = np.asarray(decode_values(a), dtype=np.float64), np.asarray(decode_values(b),
                                                                      dtype=np.float64)
    bad = np.flatnonzero(~within(kind, a, b, tolerances))
    if bad.size:
        i = bad[0]
        rel, abs_ = (tolerances or TOLERANCES)[kind]
        return [f"{where}: {bad.size} of {a.size} outside {kind} tolerance ({rel:g} rel + "
                f"{abs_:g} abs; first at {i}: recorded {float(a[i])!r}, now {float(b[i])!r})"]
    return []


def check_table(name, recorded, now, tolerances=None):
    """Problem lines of a table's record `now` against the recorded one."""
    if [c[0] for c in recorded["columns"]] != [c[0] for c in now["columns"]]:
        return [f"{name}: columns {[c[0] for c in recorded['columns']]} recorded, now "
                f"{[c[0] for c in now['columns']]}"]
    if recorded["rows"] != now["rows"]:
        return [f"{name}: {recorded['rows']} rows recorded, now {now['rows']}"]
    problems = []
    for (col, rec_type, a), (_, now_type, b) in zip(recorded["columns"], now["columns"]):
        where = f"{name}: column {col}"
        if rec_type != now_type:
            problems.append(f"{where}: {rec_type} recorded, now {now_type}")
            continue
        sample = pd.Series(np.asarray(decode_values(a)) if rec_type in ("int", "float")
                           else np.asarray(a, dtype=object))
        if rec_type == "bool":
            sample = sample.astype(bool)
        problems += compare_values(table_column_kind(col, sample, name), a, b, where,
                                   tolerances)
    return problems


def compare_frames(reference, other, name="table", tolerances=None):
    """Problem lines (empty: they agree) of DataFrame `other` against `reference`, column by
    column with the tolerances of their kinds (`tolerances` may replace TOLERANCES)."""
    return check_table(name, record_frame(reference), record_frame(other), tolerances)


def check_array(name, key, recorded, now):
    where = f"{name}: array {key}"
    if (recorded["dtype"], recorded["shape"]) != (now["dtype"], now["shape"]):
        return [f"{where}: {recorded['dtype']} {recorded['shape']} recorded, now "
                f"{now['dtype']} {now['shape']}"]
    kind = array_kind(name, key, np.empty(0, dtype=np.dtype(recorded["dtype"])))
    if "sha256" in recorded:
        return [] if recorded["sha256"] == now["sha256"] else [f"{where}: the values differ"]
    part = "values" if "values" in recorded else "sample"
    if kind == "trained_array":
        a = np.asarray(decode_values(recorded[part]), dtype=np.float64)
        b = np.asarray(decode_values(now[part]), dtype=np.float64)
        rel, abs_ = TOLERANCES[kind]
        off, size = float(np.linalg.norm(a - b)), float(np.linalg.norm(a))
        problems = [] if off <= rel * size + abs_ else [
            f"{where}: |a - b| = {off:.4g} over |a| = {size:.4g} (at most {rel:g} |a| + {abs_:g})"]
        if "norm" in recorded and not within(kind, recorded["norm"], now["norm"]):
            problems.append(f"{where}: norm {recorded['norm']:.6g} recorded, now {now['norm']:.6g}")
        return problems
    problems = compare_values(kind, recorded[part], now[part], where)
    for stat in ("sum", "norm"):      # of a generated array: over all of it, to its last bits
        if stat in recorded and abs(recorded[stat] - now[stat]) > 1e-9 * max(abs(recorded[stat]),
                                                                               1.0):
            problems.append(f"{where}: {stat} {recorded[stat]!r} recorded, now {now[stat]!r}")
    return problems


def check_text(name, recorded, now):
    if recorded["skeleton"] != now["skeleton"]:
        old, new = recorded["skeleton"].splitlines(), now["skeleton"].splitlines()
        line = next((i for i, (x, y) in enumerate(zip(old, new)) if x != y), min(len(old),
                                                                                    len(new)))
        return [f"{name}: the text (numbers aside) differs from line {line + 1}"]
    return compare_values("text_number", recorded["numbers"], now["numbers"], f"{name}: numbers")


def check_record(recorded, root):
    """Problem lines (empty: it agrees) of the tables under `root` against a record: a table the
    record holds that is missing, or whose values are outside their tolerances. Tables the record
    does not know are not problems."""
    now = record(root)["tables"]
    problems = [f"missing: {name}" for name in recorded["tables"] if name not in now]
    for name, rec in recorded["tables"].items():
        if name not in now:
            continue
        if rec["type"] != now[name]["type"]:
            problems.append(f"{name}: {rec['type']} recorded, now {now[name]['type']}")
        elif rec["type"] == "table":
            problems += check_table(name, rec, now[name])
        elif rec["type"] == "text":
            problems += check_text(name, rec, now[name])
        else:
            keys, now_keys = sorted(rec["arrays"]), sorted(now[name]["arrays"])
            if keys != now_keys:
                problems.append(f"{name}: arrays {keys} recorded, now {now_keys}")
                continue
            for key in keys:
                problems += check_array(name, key, rec["arrays"][key], now[name]["arrays"][key])
    return problems


def cpu_model():
    """The CPU's model name (/proc/cpuinfo; elsewhere what the platform says)."""
    cpuinfo = Path("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("model name")), None) if cpuinfo.exists() else None
    return model or platform.processor() or platform.machine()


def machine():
    """What float32 results depend on besides the code: the CPU, its kernels, torch."""
    import torch
    return {"cpu": cpu_model(), "machine": platform.machine(),
            "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}


# --- one computation on two devices (benchmarks/gpu_check.py) ------------------------------------

# kind -> (relative, absolute), as TOLERANCES, for the same training run on the CPU and on a GPU
# of one machine, in float32 (gpu_check's default). CPU and GPU kernels sum in other orders (and
# cuDNN may use TF32), so trajectories part by rounding, more the longer they train; over the
# smoke preset's 20 to 100 steps parted trajectories stay far inside these, while a wrong result
# (a missing update, a wrong mask, a device mix-up) is off by much more. 2 accuracy points are 20
# of 1 000 test examples.
DEVICE_TOLERANCES = {
    "key": (1e-6, 1e-9),
    "accuracy": (0.0, 2.0),
    "probe_accuracy": (0.0, 2.0),
    "loss": (5e-2, 1e-3),
    "learning_rate": (1e-2, 0.0),
    "spread": (5e-2, 1e-3),
    "value": (5e-2, 1e-3),
}
# The same run in float64 on both devices (gpu_check --dtype float64): rounding is 1e-16 of a
# value, and amplified by the smoke preset's training it stays many orders of magnitude under
# 1e-9, so anything trained agrees to 1e-9 relative (1e-12 absolute, for values near zero) and
# every accuracy exactly: a float32 difference that vanishes here was rounding, one that stays is
# a difference in what the devices compute.
FLOAT64_TOLERANCES = {
    "key": (1e-12, 0.0),
    "accuracy": (0.0, 0.0),
    "probe_accuracy": (0.0, 0.0),
    "loss": (1e-9, 1e-12),
    "learning_rate": (1e-9, 1e-12),
    "spread": (1e-9, 1e-12),
    "value": (1e-9, 1e-12),
}


def describe_tolerance(kind, tolerances=None):
    """How a value of `kind` is compared under `tolerances` (by default TOLERANCES), in words:
    'equal', 'at most 10% differ', '2 points', '0.05 rel + 0.001 abs'."""
    if kind in ("label", "integer"):
        return "equal"
    if kind in SHARES:
        return f"at most {SHARES[kind]:.0%} differ"
    rel, abs_ = (tolerances or TOLERANCES)[kind]
    if not rel and not abs_:
        return "equal"
    if kind.endswith("accuracy") and not rel:
        return f"{abs_:g} points"
    return " + ".join(([f"{rel:g} rel"] if rel else []) + ([f"{abs_:g} abs"] if abs_ else []))


def frame_comparison(reference, other, name="table", tolerances=None):
    """Table `other` (a DataFrame) against `reference`, the same computation made elsewhere,
    column by column in detail: each column's kind (table_column_kind, `name` the table's name)
    compared within `tolerances` (by default TOLERANCES; e.g. DEVICE_TOLERANCES), timing columns
    (TIMING) left out. Rows must line up; NaN must be NaN in both.

    Returns a dict: ok (bool), values (entries compared; a NaN in both is not one), max_abs (over
    the numeric columns), problems (lines: what does not line up), columns (one dict per column:
    column, kind, tolerance, values, max_abs, max_rel, outside, ok)."""
    tolerances = tolerances or TOLERANCES
    def keep(frame):
        return frame[[c for c in frame.columns if not TIMING.search(str(c))]].reset_index(drop=True)

    reference, other = keep(reference), keep(other)
    problems, columns = [], []
    if list(reference.columns) != list(other.columns):
        problems.append(f"columns differ: {list(reference.columns)} vs {list(other.columns)}")
    if len(reference) != len(other):
        problems.append(f"row counts differ: {len(reference)} vs {len(other)}")
    if problems:
        return {"ok": False, "values": 0, "max_abs": math.nan, "problems": problems,
                "columns": []}
    for column in reference.columns:
        kind = table_column_kind(column, reference[column], name)
        other_kind = table_column_kind(column, other[column], name)
        row = {"column": column, "kind": kind, "tolerance": describe_tolerance(kind, tolerances),
               "values": len(reference), "max_abs": math.nan, "max_rel": math.nan}
        if kind != other_kind:
            problems.append(f"column {column!r}: {kind} in one table, {other_kind} in the other")
            columns.append(dict(row, values=0, outside=len(reference), ok=False))
            continue
        if kind in ("label", "integer") or kind in SHARES:
            a, b = reference[column], other[column]
            if kind == "label":
                a, b = a.astype(str), b.astype(str)
            outside = int((a.to_numpy() != b.to_numpy()).sum())
            ok = outside <= SHARES[kind] * len(a) if kind in SHARES else outside == 0
            if not ok:
                problems.append(f"column {column!r}: {outside} of {len(a)} "
                                f"{'labels' if kind == 'label' else 'values'} differ")
            columns.append(dict(row, outside=outside, ok=bool(ok)))
            continue
        a = reference[column].to_numpy(dtype=np.float64)
        b = other[column].to_numpy(dtype=np.float64)
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        mismatch = int((nan_a != nan_b).sum())
        if mismatch:
            problems.append(f"column {column!r}: NaN in one table but not the other in "
                            f"{mismatch} rows")
        both = ~nan_a & ~nan_b
        with np.errstate(invalid="ignore"):
            diff = np.abs(a[both] - b[both])
        diff[a[both] == b[both]] = 0.0            # equal infinities
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(a[both] != 0, diff / np.abs(a[both]), np.where(diff == 0, 0.0, np.inf))
        outside = int((~within(kind, a[both], b[both], tolerances)).sum()) + mismatch
        columns.append(dict(row, values=int(both.sum()) + mismatch,
                            max_abs=float(diff.max()) if diff.size else 0.0,
                            max_rel=float(rel.max()) if rel.size else 0.0,
                            outside=outside, ok=outside == 0))
    numeric = [c for c in columns if not math.isnan(c["max_abs"])]
    return {"ok": not problems and all(c["ok"] for c in columns),
            "values": sum(c["values"] for c in columns),
            "max_abs": max((c["max_abs"] for c in numeric), default=0.0),
            "problems": problems, "columns": columns}


def frame_set_comparison(reference, other, tolerances=None):
    """frame_comparison of every table of two runs ({table name: DataFrame} each), by name: a
    table that one run lacks is one failed entry. Returns {table name: comparison}."""
    out = {}
    for name in sorted(set(reference) | set(other)):
        if name not in reference or name not in other:
            out[name] = {"ok": False, "values": 0, "max_abs": math.nan, "columns": [],
                         "problems": [f"table {name!r} is missing from one run"]}
        else:
            out[name] = frame_comparison(reference[name], other[name], name, tolerances)
    return out
