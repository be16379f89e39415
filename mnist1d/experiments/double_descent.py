"""Deep double descent (paper Fig. "double descent"): final train and test error against model size.

The experiment: MLPs 40->h->h->10 (ReLU, no residual) over a width grid, with and without 15 %
label noise, each with cross-entropy and with mean-squared-error loss (one-hot targets); the
benchmark CNN over a channel grid with label noise and cross-entropy. SGD lr 0.01, momentum 0.9,
batch 100 reshuffled every epoch, 500 epochs; the final train error (against the labels the model
was trained on, noisy ones included) and test error (clean labels).

How it is computed fast without changing what is computed
---------------------------------------------------------
Models of *different* sizes train together as one stacked ensemble of the training engine
(mnist1d.train): every member is zero-padded to the largest size of its group, and a fixed 0/1
mask (`masks=` of the engine) keeps the padding at exactly zero: masked weights get a zero
gradient, hence a zero momentum buffer, and stay zero, so padded hidden units / channels output
relu(0) = 0 and contribute nothing. Member k of a group therefore follows the trajectory of the
plain single run of its own size, seed, labels and loss (`tests/test_double_descent.py` checks
this in float64 against `mnist1d.train.train_plain`). All noise levels and seeds of a size join
the same group (each member has its own labels, `labels=` of the engine, and its own reshuffling
generator, seeded by its seed). `plan_groups` cuts the sorted size list into groups so that the
padding wastes little compute, and caps a group's work so that jobs can run side by side; on a
GPU (config `jobs.pieces`) the groups are much larger (one per architecture and loss at the
paper's grid), since there padding costs little and every job its start-up.

The Snakemake jobs are the groups: (architecture, loss, group index) -> one CSV of member
histories; `aggregate` reduces them to `double_descent.csv` and `find_thresholds` to the
interpolation threshold of every curve.
"""
# torch (and mnist1d.models / mnist1d.train, which import it) is imported inside the functions
# that train: the figure, table and aggregation jobs and Snakemake's own process import this
# module without paying for torch (tests/test_startup.py).
import numpy as np
import pandas as pd

from mnist1d import data as data_lib
from mnist1d import specs, store
from mnist1d.experiments import pieces as pieces_lib
from mnist1d.experiments import seed_chunks as chunks

ARCHS = ("mlp", "cnn")
LOSSES = specs.LOSSES
LOSS_LABELS = {"cross_entropy": "cross-entropy", "mse": "MSE"}
NUM_CLASSES = 10
CSV_COLUMNS = ["arch", "size", "parameters", "loss", "noise", "seed", "epochs", "train_error",
               "test_error", "train_loss", "test_loss"]
THRESHOLD_COLUMNS = ["arch", "loss", "noise", "seed", "threshold_size", "threshold_parameters",
                     "train_error_floor", "interpolates", "n_train", "ratio_to_n", "ratio_to_nK",
                     "dip_size", "dip_test_error", "peak_size", "peak_parameters",
                     "peak_test_error", "test_error_largest"]


# --- grids and models ----------------------------------------------------------------------------

def mlp_widths(low=2, high=300, points=20):
    """The double-descent notebook's width grid: np.unique(np.geomspace(low, high, points,
    dtype=int)), i.e. the points truncated (not rounded) and duplicates dropped: 2, 3, 4, 5, 7,
    9, 12, 16, 21, 27, 36, 47, 61, 80, 104, 135, 177, 230, 300 (19 widths) by default."""
    return [int(h) for h in np.unique(np.geomspace(low, high, points, dtype=int))]


def cnn_channels():
    """2, 4, ..., 28, then 30, 35, ..., 100 (the paper's and the notebook's grid)."""
    return list(range(2, 30, 2)) + list(range(30, 101, 5))


def model_spec(arch, size):
    if arch == "mlp":
        return specs.spec_of({"name": "mlp", "hidden": int(size), "residual": False})
    if arch == "cnn":
        return specs.spec_of({"name": "cnn", "channels": int(size)})
    raise ValueError(f"double_descent architecture {arch!r} is not one of {ARCHS}")


def n_parameters(arch, size):
    return specs.count_parameters(model_spec(arch, size))


def macs_per_example(arch, size):
    """Multiply-adds of one forward pass of one example (the cost model of the planner)."""
    if arch == "mlp":
        h = int(size)
        return 40 * h + h * h + h * NUM_CLASSES
    c, length, macs = int(size), 40, 0
    for i, (kernel, stride, padding) in enumerate(specs.CNN_LAYERS):
        length = (length + 2 * padding - kernel) // stride + 1
        macs += length * c * kernel * (1 if i == 0 else c)
    return macs + length * c * NUM_CLASSES


# --- label noise ---------------------------------------------------------------------------------

def noisy_labels(y, rate, seed, num_classes=NUM_CLASSES):
    """Each label, with probability `rate`, replaced by a uniformly random class (possibly the
    same one); the draws come from numpy's Generator(PCG64(seed)), so they are reproducible."""
    y = np.asarray(y)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"label noise rate {rate!r} is not in [0, 1]")
    rng = np.random.default_rng(int(seed))
    replace = rng.random(len(y)) < rate
    random_class = rng.integers(0, num_classes, len(y))
    return np.where(replace, random_class, y).astype(y.dtype)


LABEL_NOISE_METHODS = ("notebook", "seeded")


def notebook_noisy_labels(y, rate, generation_args, num_classes=NUM_CLASSES):
    """The double-descent notebook's label noise: right after make_dataset(generation_args) it
    goes on drawing from NumPy's global stream, for each training label in order
    `if random_sample() < rate: label = randint(0, num_classes)`. The stream is rebuilt exactly
    (mnist1d.data.stream_after_generation: seeded with the dataset's seed, then every draw of
    generation replayed), so the labels are those the notebook trained on, provided the notebook
    drew nothing else in between (it does not: it loads the frozen pickle, then generates, then
    draws the noise). Each noise rate starts from that same state, as if it were the notebook's."""
    y = np.array(y, copy=True)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"label noise rate {rate!r} is not in [0, 1]")
    rng = data_lib.stream_after_generation(generation_args)
    args = data_lib.get_dataset_args(as_dict=True) | dict(generation_args)
    n_train = int(args["num_samples"] // NUM_CLASSES * NUM_CLASSES * args["train_split"])
    if len(y) != n_train:
        raise ValueError(f"label_noise notebook: {len(y)} training labels, but the recorded "
                         f"generation arguments make {n_train}: the dataset was not made by "
                         f"make_dataset from them (use label_noise: seeded)")
    for i in range(len(y)):
        if rng.random_sample() < rate:
            y[i] = rng.randint(0, num_classes)
    return y


def make_noisy_dataset(source_path, rate, seed, out_path, method="seeded"):
    """The dataset at `source_path` with noisy training labels, stored (with the rate, the
    method or seed, and the source's arguments recorded) so that every model reads the same
    noisy labels. `method` (config `double_descent.label_noise`): "notebook" continues the
    generation stream of the source's recorded arguments (notebook_noisy_labels; `seed` unused),
    "seeded" draws from `seed` (noisy_labels)."""
    if method not in LABEL_NOISE_METHODS:
        raise ValueError(f"double_descent.label_noise must be one of {LABEL_NOISE_METHODS}, "
                         f"got {method!r}")
    data = store.load_dataset(source_path)
    source_args = store.read_args(source_path)
    if method == "notebook":
        y = notebook_noisy_labels(data["y"], rate, source_args)
        record = {"label_noise_method": "notebook"}
    else:
        y = noisy_labels(data["y"], rate, seed)
        record = {"label_noise_seed": int(seed)}
    noisy = dict(data, y=y)
    store.save_dataset(noisy, dict(source_args, label_noise=float(rate), **record), out_path)
    return noisy


def noise_tag(rate):
    """A file-name tag of a noise rate: 0.15 -> '0.15'."""
    return f"{float(rate):g}"


# --- planning the jobs ---------------------------------------------------------------------------

# How the sizes are cut into jobs (padded ensembles): speed and memory only, every model's numbers
# are the same in any group. Larger groups pay for padding (each member computes as the group's
# largest size), smaller ones for the step's fixed overhead and for more jobs:
GROUP_WASTE = 0.3            # padded compute at most 1.3 x the members' own ...
MIN_GROUP_MACS = 20_000      # ... unless the group is this small (overhead-bound anyway)
MAX_GROUP_MACS = 1_500_000   # padded multiply-adds per example of one job at most, so that jobs
                             # of similar length run side by side
# Pieces sized for a GPU (config `jobs.pieces`, mnist1d.experiments.pieces): a GPU steps an
# ensemble of these small models in about the time of one model, while every job pays its start-up,
# CUDA initialisation and compile, so the padding costs little and fewer jobs save much. A job's
# whole ensemble (sizes x noise levels x seeds, each padded to the largest size) is bounded instead:
GPU_MAX_JOB_MACS = 20_000_000   # padded multiply-adds per example of one job's ensemble at most.
# The paper grid fits in one job per architecture and loss: MLP 19 widths x 2 noise levels padded
# to width 300 (4.0 M), CNN 29 channel counts padded to 100 channels (13.5 M). Measured (eager,
# on the CPU: growth of the resident memory over an epoch on 4 000 examples and the evaluation of
# 4 000 and 12 000, in chunks of specs.EVAL_CHUNK examples): the CNN job 1.0 GB, an MLP job
# 0.3 GB; a job at the bound needs about 1.5 GB, far below a GPU's memory.


def plan_groups(arch, sizes, waste=GROUP_WASTE, max_group_macs=MAX_GROUP_MACS,
                min_group_macs=MIN_GROUP_MACS, members_per_size=1):
    """Cut the sizes into groups trained as one padded ensemble each (largest first).

    A size joins the current group while the group's padded cost (members x the cost of its
    largest size) stays within (1 + waste) x the sum of its members' own costs, or while the
    padded cost stays below `min_group_macs` (small models: the step's fixed overhead dominates,
    padding is free); waste None lets any padding in. A group never exceeds `max_group_macs` of
    padded cost times `members_per_size` (the members each size brings: noise levels x seeds;
    1 bounds the sizes alone), so that jobs can run side by side. Returns a list of size lists,
    each descending.
    """
    sizes = sorted({int(s) for s in sizes}, reverse=True)
    groups, current = [], []
    for size in sizes:
        candidate = current + [size]
        padded = len(candidate) * macs_per_example(arch, candidate[0])
        own = sum(macs_per_example(arch, s) for s in candidate)
        fits = waste is None or padded <= (1 + waste) * own or padded <= min_group_macs
        too_big = max_group_macs is not None and padded * members_per_size > max_group_macs
        if current and (not fits or too_big):
            groups.append(current)
            candidate = [size]
        current = candidate
    if current:
        groups.append(current)
    return groups


def plan_jobs(section, pieces="cpu"):
    """Every training job of the config's `double_descent:` section, as a list of dicts:
    name, arch, loss, sizes, noises, seeds.

    pieces "cpu" (mnist1d.experiments.pieces): the sizes cut by `plan_groups` (padding within
    GROUP_WASTE, MAX_GROUP_MACS at most), named {arch}_{loss}_g{index}{chunk}. pieces "gpu": any
    padding, each job's whole ensemble within GPU_MAX_JOB_MACS (the paper grid: one job per
    architecture and loss), named {arch}_{loss}_sizes{largest}-{smallest}{chunk}.

    Each group of sizes is one job per chunk of seeds (`seeds_per_job`,
    mnist1d.experiments.seed_chunks): the chunk's tag ends the name ("" with the default, one
    chunk of every seed; "_seeds0-4" or "_seed3" with seeds_per_job set)."""
    if pieces not in ("cpu", "gpu"):
        raise ValueError(f"double_descent plan_jobs: pieces {pieces!r} is not 'cpu' or 'gpu'")
    jobs = []
    seed_chunks = chunks.chunks_of(section, "double_descent")
    for arch in ARCHS:
        sub = section.get(arch)
        if not sub or not sub["sizes"]:
            continue
        if pieces == "cpu":
            groups = plan_groups(arch, sub["sizes"])
        else:
            per_size = len(sub["noise"]) * max(len(seeds) for seeds in seed_chunks.values())
            groups = plan_groups(arch, sub["sizes"], waste=None, max_group_macs=GPU_MAX_JOB_MACS,
                                 members_per_size=per_size)
        for loss in sub["losses"]:
            for index, sizes in enumerate(groups):
                if pieces == "cpu":
                    group = f"g{index}"
                else:
                    group = f"sizes{sizes[0]}" + (f"-{sizes[-1]}" if len(sizes) > 1 else "")
                for tag, seeds in seed_chunks.items():
                    jobs.append({"name": f"{arch}_{loss}_{group}{tag}", "arch": arch,
                                 "loss": loss, "sizes": sizes,
                                 "noises": [float(r) for r in sub["noise"]], "seeds": seeds})
    return jobs


def jobs_from_config(config):
    """The training jobs (plan_jobs) of the whole pipeline config: its `double_descent:` section
    in the pieces of `jobs.pieces` (mnist1d.experiments.pieces; the rules plan with this)."""
    return plan_jobs(config["double_descent"], pieces_lib.pieces_for(config, "double_descent"))


def job_cost(job):
    """Padded multiply-adds per example of one job's step (members x its largest size)."""
    return len(job_members(job)) * macs_per_example(job["arch"], max(job["sizes"]))


TRAINING_KEYS = ("lr", "momentum", "batch_size", "epochs", "eval_every_epochs")


def protocol_from_config(config, job_name):
    """What training job `job_name` (a padded ensemble, see plan_jobs) computes with, from the
    whole pipeline config: the rule passes exactly this. Keys that only shape the tables and
    figures (threshold_tolerance, reference_width) are not in it."""
    section = config["double_descent"]
    jobs = {job["name"]: job for job in jobs_from_config(config)}
    return {"job": jobs[job_name], **{key: section[key] for key in TRAINING_KEYS},
            "compile": specs.compile_for(config, "double_descent")}


def engine_protocol(settings, loss, n_train):
    """The engine protocol: SGD with momentum, reshuffled batches, `epochs` full epochs on
    n_train examples; evaluated every `eval_every_epochs` and after the last step."""
    per_epoch = specs.batches_per_epoch(n_train, settings["batch_size"])
    return {"optimizer": "sgd", "lr": settings["lr"], "momentum": settings["momentum"],
            "batch_size": settings["batch_size"], "order": "reshuffle", "loss": loss,
            "steps": specs.epochs_to_steps(settings["epochs"], n_train, settings["batch_size"]),
            "eval_every": max(1, settings["eval_every_epochs"] * per_epoch)}


# --- padded ensembles ----------------------------------------------------------------------------

def _embed(small, big_shape):
    """`small` in the leading corner of zeros of `big_shape` (and the 0/1 mask of that corner)."""
    big = small.new_zeros(big_shape)
    mask = small.new_zeros(big_shape)
    corner = tuple(slice(0, n) for n in small.shape)
    big[corner], mask[corner] = small, 1
    return big, mask


def _pad_member(arch, params, size, big):
    """One member's parameters (plain names and shapes), padded to size `big`.

    Every parameter's own entries are the leading corner of the padded one, the CNN's linear
    weight included: its input is flattened channel-major, channel i owning columns
    [L*i, L*(i+1)), so a member's columns are the first L*size ones.
    """
    from mnist1d import models

    ref = dict(models.build(model_spec(arch, big)).named_parameters())
    out, masks = {}, {}
    for name, p in params.items():
        out[name], masks[name] = _embed(p, ref[name].shape)
    return out, masks


def padded_ensemble(arch, members, dtype=None, device="cpu"):
    """Stacked parameters and masks of members [(size, seed), ...] padded to the largest size.

    Member k is initialised exactly as build(model_spec(arch, size_k)) after
    torch.manual_seed(seed_k) (models.init_params), then zero-padded; dtype None = float32.
    """
    import torch   # in the functions that train: the aggregation and figure jobs start without it

    from mnist1d import models

    dtype = torch.float32 if dtype is None else dtype
    big = max(size for size, _ in members)
    padded, masks = [], []
    for size, seed in members:
        params = models.init_params(model_spec(arch, size), [seed], torch.float64)
        p, m = _pad_member(arch, {name: v[0] for name, v in params.items()}, size, big)
        padded.append(p)
        masks.append(m)
    stack = lambda dicts: {name: torch.stack([d[name] for d in dicts]).to(device, dtype)  # noqa: E731
                           for name in dicts[0]}
    return model_spec(arch, big), stack(padded), stack(masks)


def unpad_member(arch, params, k, size):
    """Member k's parameters cut back to its own size (a state_dict of build(spec(size)))."""
    from mnist1d import models

    ref = dict(models.build(model_spec(arch, size)).named_parameters())
    return {name: p[k][tuple(slice(0, n) for n in ref[name].shape)].detach().clone()
            for name, p in params.items()}


def job_members(job):
    """The members of a job, in order: every (size, noise, seed)."""
    return [(size, noise, seed) for size in job["sizes"] for noise in job["noises"]
            for seed in job["seeds"]]


def train_job(protocol, inputs, *, device="cpu", logger=None, dtype=None):
    """The dd_train job (mnist1d.experiments: job functions): train_group of protocol["job"]
    with the settings of `protocol` (protocol_from_config) on `inputs` (noise rate -> dataset).
    Returns "history"."""
    return {"history": train_group(protocol["job"], inputs, protocol, device=device, dtype=dtype,
                                   compile=protocol["compile"], logger=logger)}


def train_group(job, datasets, settings, device="cpu", dtype=None, compile=False,
                logger=None):
    """Train one job's group of sizes (a padded ensemble); return the tidy history of every
    member.

    `datasets` maps each noise rate of the job to its dataset dict (same x, noisy y);
    `settings` holds lr, momentum, batch_size, epochs, eval_every_epochs (protocol_from_config).
    Columns: arch, size, parameters, loss, noise, seed, epoch, step, train_loss, test_loss,
    train_error, test_error (percent), batch_loss. dtype None = float32.
    """
    import torch

    from mnist1d import train

    dtype = torch.float32 if dtype is None else dtype
    arch, loss = job["arch"], job["loss"]
    members = job_members(job)
    base = datasets[members[0][1]]
    for noise in job["noises"]:
        d = datasets[noise]
        if not (np.array_equal(d["x"], base["x"]) and np.array_equal(d["y_test"], base["y_test"])):
            raise ValueError(f"job {job['name']}: the datasets of the noise levels differ in more "
                             "than their training labels")
    labels = np.stack([datasets[noise]["y"] for _, noise, _ in members])
    seeds = [seed for _, _, seed in members]
    spec, params, masks = padded_ensemble(arch, [(size, seed) for size, _, seed in members],
                                          dtype, device)
    protocol = engine_protocol(settings, loss, len(base["x"]))
    if logger is not None:
        logger.info(f"job {job['name']}: {len(members)} members (sizes {job['sizes']} x noise "
                    f"{job['noises']} x seeds {job['seeds']}) padded to {arch} size "
                    f"{max(job['sizes'])}; protocol {protocol}")
    history, _ = train.train(base, spec, protocol, seeds, device=device, dtype=dtype,
                             compile=compile, masks=masks, params=params, logger=logger,
                             labels=labels)
    per_member = len(history) // len(members)
    frames = []
    for k, (size, noise, seed) in enumerate(members):
        h = history.iloc[k * per_member:(k + 1) * per_member].reset_index(drop=True)
        assert (h["seed"] == seed).all()
        h = h.drop(columns="seed")
        h.insert(0, "seed", seed)
        h.insert(0, "noise", noise)
        h.insert(0, "loss", loss)
        h.insert(0, "parameters", n_parameters(arch, size))
        h.insert(0, "size", size)
        h.insert(0, "arch", arch)
        frames.append(h)
    out = pd.concat(frames, ignore_index=True)
    per_epoch = specs.batches_per_epoch(len(base["x"]), settings["batch_size"])
    out.insert(out.columns.get_loc("step"), "epoch", (out["step"] + 1) / per_epoch)
    out["train_error"] = 100.0 - out.pop("train_acc")
    out["test_error"] = 100.0 - out.pop("test_acc")
    return out


# --- aggregation ---------------------------------------------------------------------------------

def combine(histories):
    """The histories of the jobs as one, in the order of the unsplit jobs (arch, loss, size,
    noise, seed as they first appear, then step), whatever seeds_per_job cut the seeds into."""
    h = pd.concat(histories, ignore_index=True) if isinstance(histories, list) else histories
    return chunks.in_first_seen_order(h, ["arch", "loss", "size", "noise", "seed", "step"],
                                      numeric=("step",))


def aggregate(histories):
    """The final evaluation of every member: one row per (arch, size, loss, noise, seed)."""
    h = pd.concat(histories, ignore_index=True) if isinstance(histories, list) else histories
    keys = ["arch", "size", "loss", "noise", "seed"]
    last = h.loc[h.groupby(keys)["step"].idxmax()].copy()
    last["epochs"] = last["epoch"].round().astype(int)
    out = last[CSV_COLUMNS].sort_values(["arch", "loss", "noise", "seed", "size"])
    return out.reset_index(drop=True)


def find_thresholds(table, n_train, tolerance=1.0, num_classes=NUM_CLASSES):
    """The interpolation threshold of every curve (arch, loss, noise, seed) and its test-error
    peak.

    Threshold: the smallest model whose final training error is within `tolerance` percentage
    points of the curve's floor (its lowest training error); `interpolates` says whether that
    floor is itself within `tolerance` of zero (if not, no model of the curve fits its training
    set and the "threshold" is only where the curve flattens). Peak: the highest test error
    among the threshold and its two neighbours on the size grid; dip: the lowest test error of
    the models smaller than the peak. peak - dip > 0 means the test error really rises again
    towards the threshold (a double descent), not just a falling curve. Ratios compare the
    threshold's parameter count with n and n*K.
    """
    rows = []
    for (arch, loss, noise, seed), c in table.groupby(["arch", "loss", "noise", "seed"]):
        c = c.sort_values("size").reset_index(drop=True)
        floor = c["train_error"].min()
        at = c[c["train_error"] <= floor + tolerance].index[0]
        peak = c.loc[max(0, at - 1):at + 1, "test_error"].idxmax()
        dip = c.loc[:peak - 1, "test_error"].idxmin() if peak > 0 else peak
        rows.append({"arch": arch, "loss": loss, "noise": noise, "seed": seed,
                     "threshold_size": int(c.loc[at, "size"]),
                     "threshold_parameters": int(c.loc[at, "parameters"]),
                     "train_error_floor": floor, "interpolates": bool(floor <= tolerance),
                     "n_train": n_train,
                     "ratio_to_n": c.loc[at, "parameters"] / n_train,
                     "ratio_to_nK": c.loc[at, "parameters"] / (n_train * num_classes),
                     "dip_size": int(c.loc[dip, "size"]), "dip_test_error": c.loc[dip, "test_error"],
                     "peak_size": int(c.loc[peak, "size"]),
                     "peak_parameters": int(c.loc[peak, "parameters"]),
                     "peak_test_error": c.loc[peak, "test_error"],
                     "test_error_largest": c["test_error"].iloc[-1]})
    return pd.DataFrame(rows, columns=THRESHOLD_COLUMNS)


def label_noise_text(section):
    """How the config's `double_descent:` section draws its label noise, in words (summary.md)."""
    if section["label_noise"] == "notebook":
        return ("the notebook's draw (NumPy's global stream continued after generating the "
                "dataset; label_noise: notebook)")
    return f"seeded (numpy Generator, noise_seed {section['noise_seed']}; label_noise: seeded)"


def summary_markdown(table, thresholds, n_train, reference_width=300, label_noise=None):
    """The paper's targets, measured: thresholds vs n and n*K, peak heights; `label_noise`
    (label_noise_text) says how the noisy labels were drawn."""
    noise = f" Label noise: {label_noise}." if label_noise else ""
    lines = [f"n = {n_train} training examples, K = {NUM_CLASSES} outputs: n = {n_train:,}, "
             f"n*K = {n_train * NUM_CLASSES:,} parameters. Epochs: {int(table['epochs'].max())}."
             f"{noise}", "", "| arch | loss | noise | seed | threshold (size, parameters) | interpolates "
             "(train-error floor %) | / n | / n*K | dip (size: test %) | peak (size: test %) | "
             "largest size (test %) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in thresholds.itertuples():
        lines.append(f"| {r.arch} | {LOSS_LABELS.get(r.loss, r.loss)} | {r.noise:g} | {r.seed} | "
                     f"{r.threshold_size}, {r.threshold_parameters:,} | "
                     f"{'yes' if r.interpolates else 'NO'} ({r.train_error_floor:.2f}) | "
                     f"{r.ratio_to_n:.2f} | {r.ratio_to_nK:.3f} | {r.dip_size}: "
                     f"{r.dip_test_error:.1f} | {r.peak_size}: {r.peak_test_error:.1f} | "
                     f"{r.test_error_largest:.1f} |")
    lines += ["", "Peak heights (seed means; peak = highest test error at the threshold or a grid "
              "neighbour; rise = peak minus the lowest test error of the smaller models):"]
    for (arch, loss, noise), t in thresholds.groupby(["arch", "loss", "noise"]):
        c = table[(table.arch == arch) & (table.loss == loss) & (table.noise == noise)]
        mean = c.groupby("size")["test_error"].mean()
        peak = t["peak_test_error"].mean()
        rise = (t["peak_test_error"] - t["dip_test_error"]).mean()
        if arch == "mlp" and reference_width in mean.index:
            ref, where = mean[reference_width], f"width {reference_width}"
        else:
            ref, where = mean.iloc[-1], f"size {int(mean.index[-1])} (the largest)"
        lines.append(f"- {arch.upper()} {LOSS_LABELS.get(loss, loss)}, noise {noise:g}: peak "
                     f"{peak:.1f}% at size {int(t['peak_size'].median())}; at {where}: {ref:.1f}%; "
                     f"peak minus that: {peak - ref:+.1f} points; rise from the dip: {rise:+.1f}")
    return "\n".join(lines) + "\n"


# --- figures -------------------------------------------------------------------------------------

def _curve(ax, c, x, color, label, style="-"):
    g = c.groupby(x)
    for metric, ls, alpha in (("test_error", style, 1.0), ("train_error", ":", 0.8)):
        mean, lo, hi = g[metric].mean(), g[metric].min(), g[metric].max()
        ax.plot(mean.index, mean.values, ls, color=color, alpha=alpha, marker=".", ms=4,
                label=f"{label} {'test' if metric == 'test_error' else 'train'}")
        if g["seed"].nunique().max() > 1:
            ax.fill_between(mean.index, lo.values, hi.values, color=color, alpha=0.15, lw=0)


def _log_ticks(ax, values):
    """A log axis labelled with plain numbers."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    lo, hi = min(values), max(values)
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if lo <= t <= hi]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_double_descent(table, thresholds, noise_rate):
    """The paper's three panels: MLP without label noise, MLP with noise, CNN with noise
    (cross-entropy), final train and test error against model size; threshold marked."""
    import matplotlib.pyplot as plt

    panels = [("mlp", 0.0, "MLP, no label noise", "hidden width h"),
              ("mlp", noise_rate, f"MLP, {100 * noise_rate:g}% label noise", "hidden width h"),
              ("cnn", noise_rate, f"CNN, {100 * noise_rate:g}% label noise", "channels c")]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (arch, noise, title, xlabel) in zip(axes, panels):
        c = table[(table.arch == arch) & (table.noise == noise) & (table.loss == "cross_entropy")]
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        if c.empty:
            ax.text(0.5, 0.5, "not in this run", ha="center", transform=ax.transAxes)
            continue
        _curve(ax, c, "size", "C3", "")
        t = thresholds[(thresholds.arch == arch) & (thresholds.noise == noise)
                       & (thresholds.loss == "cross_entropy")]
        if len(t):
            size = t["threshold_size"].median()
            reached = bool(t["interpolates"].all())
            ax.axvline(size, color="0.4", lw=1, ls="--" if reached else ":")
            label = "threshold" if reached else "no interpolation;\n flattens at"
            ax.text(size, 0.97, f" {label}\n {int(size)} ({int(t['threshold_parameters'].median()):,} p.)",
                    transform=ax.get_xaxis_transform(), va="top", fontsize=8, color="0.3")
        if arch == "mlp":
            _log_ticks(ax, c["size"])
        ax.set_ylim(bottom=0)
    axes[0].set_ylabel("error (%)")
    axes[0].legend(["test error", "train error"], loc="lower left")
    seeds = table.groupby(["arch", "loss", "noise", "size"])["seed"].nunique().min()
    epochs = int(table["epochs"].max())
    n_train = int(thresholds["n_train"].iloc[0]) if len(thresholds) else 0
    fig.suptitle(f"Deep double descent on MNIST-1D: final error vs model size (n = {n_train:,} "
                 f"training examples; SGD, {epochs} epochs, cross-entropy; {seeds} seed"
                 f"{'s, mean and min-max' if seeds > 1 else ''})", fontsize=10)
    fig.tight_layout()
    return fig


def plot_losses(table, thresholds, n_train):
    """MLP, cross-entropy vs MSE: final train and test error against the parameter count (log
    axis), one panel per noise level; n and n*K marked, detected thresholds as ticks."""
    import matplotlib.pyplot as plt

    mlp = table[table.arch == "mlp"]
    noises = sorted(set(mlp["noise"]))
    fig, axes = plt.subplots(1, max(1, len(noises)), figsize=(6 * max(1, len(noises)), 4),
                             squeeze=False)
    colors = {"cross_entropy": "C0", "mse": "C1"}
    for ax, noise in zip(axes[0], noises):
        for loss in LOSSES:
            c = mlp[(mlp.noise == noise) & (mlp.loss == loss)]
            if c.empty:
                continue
            _curve(ax, c, "parameters", colors[loss], LOSS_LABELS[loss])
            t = thresholds[(thresholds.arch == "mlp") & (thresholds.noise == noise)
                           & (thresholds.loss == loss)]
            if len(t):
                reached = bool(t["interpolates"].all())
                ax.plot([t["threshold_parameters"].median()], [0], clip_on=False,
                        marker="^" if loss == "cross_entropy" else "v", ms=10, alpha=0.8,
                        color=colors[loss], ls="none", mfc=colors[loss] if reached else "none",
                        label=f"{LOSS_LABELS[loss]} threshold ({int(t['threshold_parameters'].median()):,})"
                        if reached else f"{LOSS_LABELS[loss]}: no interpolation (floor "
                        f"{t['train_error_floor'].mean():.0f}%)")
        for value, label in ((n_train, "n"), (n_train * NUM_CLASSES, "n*K")):
            ax.axvline(value, color="k", lw=1, ls="--")
            ax.text(value, 0.98, f" {label} = {value:,}", transform=ax.get_xaxis_transform(),
                    va="top", fontsize=9)
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("parameters")
        ax.legend(loc="lower left", fontsize=7)
        ax.set_title(f"MLP, {'no' if noise == 0 else f'{100 * noise:g}%'} label noise")
    axes[0][0].set_ylabel("error (%)")
    epochs = int(table["epochs"].max())
    fig.suptitle(f"Cross-entropy vs mean-squared-error loss: the interpolation threshold "
                 f"(n = {n_train}, K = {NUM_CLASSES}; {epochs} epochs; solid: test, dotted: train)",
                 fontsize=10)
    fig.tight_layout()
    return fig
