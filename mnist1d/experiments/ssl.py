"""Self-supervised contrastive learning on MNIST-1D (the reference notebook self-supervised-learning.ipynb).

SimCLR-style: the benchmark CNN's three convolutions (features: the flattened 25 x 5 = 125-d
output) and a projector 125 -> 125 (ReLU) -> 16 are trained, without labels, to map two random
augmentations of the same signal close together and away from the other signals of the batch
(InfoNCE on cosine similarity, temperature 0.5). Augmentation of a signal x over the positions t
(centred: t = i - 19.5): remove its offset and linear trend (least squares), shift it circularly
by a random whole number of positions, then add a random new slope (normal, std 0.04 per
position) and offset (normal, std 0.3). Adam, lr 0.01, batch 100 reshuffled every epoch, 200
epochs over the 4 000 training signals.

Two choices of the reference notebook are settings (config keys `ssl.shift`,
`ssl.loss`; the variants use the same):

* shift ``right`` (the notebook): randint(0, max_shift), 0 to max_shift - 1 positions, always to
  the right; ``both``: -max_shift to max_shift positions, either way (earlier versions).
* loss ``one_directional`` (the notebook's "half-batch" InfoNCE): the B view-1 outputs are the
  anchors, their similarities to the B view-2 outputs the logits, the diagonal the positives,
  mean over the B anchors; ``symmetric``: NT-Xent over all 2B outputs (every other output of the
  batch a negative), mean over the 2B anchors (earlier versions).

Representations are judged per layer, before and after training, by a kNN classifier (k = 10,
cosine) and a linear probe (logistic regression on standardised features), both fitted on the
training set and scored on the test set; the raw input is the reference point.

Seeds train together as one stacked ensemble (as mnist1d.models does): member k draws its batch
order and augmentations from its own generator seeded with seeds[k], so it follows exactly the
trajectory of the plain single run `train_plain(seed=seeds[k])` (tests/test_ssl.py, float64).
"""
import functools
import time

# torch (and mnist1d.models / mnist1d.train, which import it) is imported inside the functions
# that train: the figure, table and aggregation jobs and Snakemake's own process import this
# module without paying for torch (tests/test_startup.py).
import numpy as np
import pandas as pd

from mnist1d import specs
from mnist1d.experiments import published

DEFAULTS = {"epochs": 200, "batch_size": 100, "lr": 1e-2, "temperature": 0.5, "max_shift": 10,
            "slope_std": 0.04, "offset_std": 0.3, "channels": 25, "hidden": 125, "out": 16,
            "projector": None, "shift": "right", "loss": "one_directional"}
SHIFTS = ("right", "both")
LOSSES = ("one_directional", "symmetric")
LAYERS = ("input", "conv1", "conv2", "conv3", "hidden", "output")
LAYER_LABELS = {"input": "raw input", "conv1": "conv 1", "conv2": "conv 2",
                "conv3": "conv 3 (features)", "hidden": "projector hidden", "output": "output"}
# The main model (`hidden`, `out`: the 125-125-16 projector) is trained by protocol_from_config's
# job; `ssl.variants` names other projectors (e.g. none, a deeper one), each its own job
# (variant_protocol), for the guillotine comparison of the reference notebook.
MAIN_MODEL = "projector"


def protocol_from_config(config):
    """What the SSL job (training every seed as one ensemble, then the probes) computes with, from
    the whole pipeline config: the rule passes exactly this."""
    section = config["ssl"]
    return {"settings": {k: section[k] for k in DEFAULTS if k in section},
            "seeds": [int(s) for s in section["seeds"]], "knn_k": section["knn_k"],
            "probe_max_iter": section["probe_max_iter"],
            "compile": specs.compile_for(config, "ssl")}


def variant_protocol(config, name):
    """What the job of SSL model variant `name` (a key of `ssl.variants`) computes with: the main
    protocol with the variant's projector widths (after the 125-d features; [] is no projector:
    the features are the output). Only the trained models are probed (no 'before' stage)."""
    variants = config["ssl"].get("variants") or {}
    if name not in variants:
        raise ValueError(f"config key 'ssl.variants': no variant {name!r}; known: "
                         f"{sorted(variants)}")
    protocol = protocol_from_config(config)
    protocol["settings"]["projector"] = [int(w) for w in variants[name]]
    protocol["variant"] = name
    return protocol


def projector_widths(s):
    """The widths of the projector's linear layers (the last is the output)."""
    return [s["hidden"], s["out"]] if s["projector"] is None else [int(w) for w in s["projector"]]


def layer_names(widths):
    """The probed layers of a model with projector `widths`: input, conv1-3, the projector's
    hidden layers ('hidden' when there is one, else 'hidden1', ...), 'output' (the last layer;
    without a projector the output is conv3 and there is no separate 'output')."""
    n = len(widths)
    hidden = ["hidden"] if n == 2 else [f"hidden{i}" for i in range(1, n)]
    return ("input", "conv1", "conv2", "conv3") + tuple(hidden) + (("output",) if n else ())


def layer_label(name):
    if name in LAYER_LABELS:
        return LAYER_LABELS[name]
    return f"projector hidden {name[len('hidden'):]}" if name.startswith("hidden") else name


def settings_of(settings=None):
    s = dict(DEFAULTS)
    unknown = set(settings or {}) - set(s)
    if unknown:
        raise ValueError(f"ssl: unknown keys {sorted(unknown)}; known: {sorted(s)}")
    s.update(settings or {})
    for key, allowed in (("shift", SHIFTS), ("loss", LOSSES)):
        if s[key] not in allowed:
            raise ValueError(f"config key 'ssl.{key}': {s[key]!r} is not one of "
                             f"{', '.join(allowed)}")
    return s


# --- augmentations -----------------------------------------------------------------------------

def positions(length, device=None, dtype=None):
    import torch

    dtype = torch.float32 if dtype is None else dtype
    return torch.arange(length, device=device, dtype=dtype) - (length - 1) / 2


def detrend(x):
    """x (..., L) minus its least-squares offset and slope over the centred positions."""
    t = positions(x.shape[-1], x.device, x.dtype)
    slope = (x * t).sum(-1, keepdim=True) / (t * t).sum()
    return x - x.mean(-1, keepdim=True) - slope * t


def draw(n, generator, s):
    """The random numbers of n augmentations: shifts (n,) int64, slopes (n,), offsets (n,).

    Shifts (positions to the right): 0 .. max_shift - 1 with shift `right` (the notebook's
    randint(0, max_shift); none when max_shift is 0), -max_shift .. max_shift with `both`."""
    import torch

    if s["shift"] == "right":
        shifts = torch.randint(0, max(1, s["max_shift"]), (n,), generator=generator)
    else:
        shifts = torch.randint(-s["max_shift"], s["max_shift"] + 1, (n,), generator=generator)
    slopes = torch.randn(n, generator=generator, dtype=torch.float64) * s["slope_std"]
    offsets = torch.randn(n, generator=generator, dtype=torch.float64) * s["offset_std"]
    return shifts, slopes, offsets


def augment(x, shifts, slopes, offsets):
    """Augment signals x (..., L): detrend, circular shift (torch.roll by `shifts`), new trend."""
    import torch

    L = x.shape[-1]
    idx = (torch.arange(L, device=x.device) - shifts.unsqueeze(-1)) % L   # roll right by shift
    x = detrend(x)
    x = torch.gather(x.expand(*torch.broadcast_shapes(x.shape[:-1], idx.shape[:-1]), L), -1, idx)
    t = positions(L, x.device, x.dtype)
    return x + slopes.unsqueeze(-1).to(x.dtype) * t + offsets.unsqueeze(-1).to(x.dtype)


def info_nce(z1, z2, temperature):
    """NT-Xent of paired embeddings z1, z2 (..., B, D): mean over the 2B anchors."""
    import torch
    import torch.nn.functional as F

    z = F.normalize(torch.cat([z1, z2], -2), dim=-1)               # (..., 2B, D)
    n = z.shape[-2]
    sim = z @ z.transpose(-1, -2) / temperature
    sim = sim.masked_fill(torch.eye(n, dtype=torch.bool, device=z.device), float("-inf"))
    target = (torch.arange(n, device=z.device) + n // 2) % n       # each view's partner
    logp = sim.log_softmax(-1)
    return -logp.gather(-1, target.expand(*sim.shape[:-1]).unsqueeze(-1)).squeeze(-1).mean(-1)


def info_nce_one_directional(z1, z2, temperature):
    """The notebook's "half-batch" InfoNCE of paired embeddings z1, z2 (..., B, D): anchors z1,
    logits the cosine similarities to every z2 over the temperature, the partner the positive;
    mean over the B anchors."""
    import torch.nn.functional as F

    z1, z2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    sim = z1 @ z2.transpose(-1, -2) / temperature                  # (..., B, B)
    logp = sim.log_softmax(-1)
    return -logp.diagonal(dim1=-2, dim2=-1).mean(-1)


def contrastive_loss(s):
    """The loss of settings `s`: info_nce_one_directional or info_nce (symmetric)."""
    return info_nce_one_directional if s["loss"] == "one_directional" else info_nce


# --- the network: plain module and stacked ensemble ------------------------------------------

@functools.cache
def ssl_net_class():
    """The plain module SSLNet (made on first use, so that importing this module needs no torch)."""
    from torch import nn

    class SSLNet(nn.Module):
        """The benchmark CNN's convolutions and a projector; forward returns every layer's output.

        `projector`: the widths of the projector's linear layers (ReLU between them, none after the
        last); None is [hidden, out]; [] is no projector (the 125-d features are the output)."""

        def __init__(self, channels=25, hidden=125, out=16, input_size=40, projector=None):
            super().__init__()
            (k1, s1, p1), (k2, s2, p2), (k3, s3, p3) = specs.CNN_LAYERS
            self.conv1 = nn.Conv1d(1, channels, k1, stride=s1, padding=p1)
            self.conv2 = nn.Conv1d(channels, channels, k2, stride=s2, padding=p2)
            self.conv3 = nn.Conv1d(channels, channels, k3, stride=s3, padding=p3)
            self.widths = [hidden, out] if projector is None else [int(w) for w in projector]
            self.layer_names = layer_names(self.widths)
            width = channels * specs.cnn_length(input_size)
            for i, w in enumerate(self.widths, start=1):       # created in order: proj1, proj2, ...
                setattr(self, f"proj{i}", nn.Linear(width, w))
                width = w

        def forward(self, x):
            h = x.view(-1, 1, x.shape[-1])
            outs = {"input": x}
            for name in ("conv1", "conv2", "conv3"):
                h = getattr(self, name)(h).relu()
                outs[name] = h.reshape(h.shape[0], -1)
            h = outs["conv3"]
            for i, name in enumerate(self.layer_names[4:], start=1):
                h = getattr(self, f"proj{i}")(h)
                outs[name] = h if name == "output" else h.relu()
                h = outs[name]
            outs.setdefault("output", outs["conv3"])
            return outs

    return SSLNet


def build(s):
    return ssl_net_class()(s["channels"], s["hidden"], s["out"], projector=s["projector"])


def init_params(s, seeds, dtype=None, device="cpu"):
    """{name: (K, ...)}: member k is build(s) after torch.manual_seed(seeds[k]); dtype None =
    float32."""
    import torch   # in the functions that train: the figure and table jobs start without it

    dtype = torch.float32 if dtype is None else dtype
    state = torch.random.get_rng_state()
    try:
        members = []
        for seed in seeds:
            torch.manual_seed(int(seed))
            members.append(dict(build(s).named_parameters()))
    finally:
        torch.random.set_rng_state(state)
    return {name: torch.stack([m[name].detach() for m in members]).to(device=device, dtype=dtype)
            for name in members[0]}


def param_layers(params):
    """The probed layer names of ensemble parameters `params` (from their projector layers)."""
    n = sum(1 for name in params if name.startswith("proj") and name.endswith(".weight"))
    return layer_names([0] * n)


def forward(params, x, layers=False):
    """Ensemble forward of x (K, B, 40): the output (K, B, out), or every layer's output (the
    output of a model without projector is its conv3 features)."""
    from mnist1d import models

    K = params["conv1.weight"].shape[0]
    h = x.unsqueeze(-1)
    if h.dim() == 3:
        h = h.expand(K, *h.shape)
    outs = {"input": x.expand(K, *x.shape[-2:])}
    for i, (kernel, stride, padding) in enumerate(specs.CNN_LAYERS, start=1):
        h = models._conv(h, params[f"conv{i}.weight"], params[f"conv{i}.bias"], kernel, stride,
                         padding).relu()
        outs[f"conv{i}"] = h.transpose(2, 3).reshape(K, h.shape[1], -1)   # channel-major
    h = outs["conv3"]
    for i, name in enumerate(param_layers(params)[4:], start=1):
        h = models._linear(h, params[f"proj{i}.weight"], params[f"proj{i}.bias"])
        if name != "output":
            h = h.relu()
        outs[name] = h
    outs.setdefault("output", outs["conv3"])
    return outs if layers else outs["output"]


class Draws:
    """Batch order and augmentation draws of every member, one generator per seed."""

    def __init__(self, seeds, n, s):
        import torch

        self.gens = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
        self.n, self.s, self.bs = n, s, s["batch_size"]
        self.steps_per_epoch = n // self.bs

    def epoch(self):
        import torch

        return [torch.randperm(self.n, generator=g) for g in self.gens]

    def augmentations(self):
        """(shifts, slopes, offsets), each (K, 2, B): two views of each signal."""
        import torch

        out = [draw(2 * self.bs, g, self.s) for g in self.gens]
        return tuple(torch.stack([o[i] for o in out]).view(len(self.gens), 2, self.bs)
                     for i in range(3))

    def epoch_augmentations(self, device=None):
        """Every step's augmentations of one epoch, drawn step after step as `augmentations`
        draws them (the same numbers) and moved to `device` at once: (shifts, slopes, offsets),
        each (steps_per_epoch, K, 2, B). Three copies to a GPU per epoch, not three per step."""
        import torch

        steps = [self.augmentations() for _ in range(self.steps_per_epoch)]
        return tuple(torch.stack([step[i] for step in steps]).to(device) for i in range(3))


def make_step(s, protocol, compile=False):
    from mnist1d import train

    def loss(params, xb, shifts, slopes, offsets):
        views = augment(xb.unsqueeze(1), shifts, slopes, offsets)   # (K, 2, B, L)
        z = forward(params, views.flatten(1, 2))                     # (K, 2B, 16)
        losses = contrastive_loss(s)(z[:, :s["batch_size"]], z[:, s["batch_size"]:],
                                     s["temperature"])
        return losses.sum(), losses.detach()

    return train.gradient_step(
        loss, lambda params, grads, state: train.update(params, grads, state, protocol), compile)


def train_ssl(x, seeds, settings=None, device="cpu", dtype=None, compile=False,
              logger=None, cuda_graph=True):
    """Contrastive training of len(seeds) members on the signals x (N, 40), without labels.

    Returns (initial params, final params, history DataFrame: seed, epoch, loss = the mean
    InfoNCE of that epoch's batches). dtype None = float32."""
    import torch

    from mnist1d import train

    dtype = torch.float32 if dtype is None else dtype
    s, seeds = settings_of(settings), [int(v) for v in seeds]
    protocol = specs.protocol_of({"optimizer": "adam", "lr": s["lr"]})
    device = torch.device(device)
    x = torch.as_tensor(np.ascontiguousarray(x)).to(device, dtype)
    params = init_params(s, seeds, dtype, device)
    initial = {k: p.clone() for k, p in params.items()}
    state = train.init_state(params, protocol)
    step_fn = train.graphed(make_step(s, protocol, compile), device, cuda_graph, logger)
    draws, t0 = Draws(seeds, len(x), s), time.perf_counter()
    if logger is not None:
        logger.info(f"SSL: seeds {seeds} as one ensemble on {device}, {dtype}, compile {compile}; "
                    f"{s['epochs']} epochs of {draws.steps_per_epoch} steps; {s}")
    epoch_losses = []       # (K,) on the device per epoch: read on the host only to log, and at the end
    for epoch in range(s["epochs"]):
        perms = torch.stack(draws.epoch()).to(device)
        shifts, slopes, offsets = draws.epoch_augmentations(device)
        total = torch.zeros(len(seeds), dtype=torch.float64, device=device)
        for b in range(draws.steps_per_epoch):
            idx = perms[:, b * s["batch_size"]:(b + 1) * s["batch_size"]]
            total += step_fn(params, state, x[idx], shifts[b], slopes[b], offsets[b]).double()
        epoch_losses.append(total / draws.steps_per_epoch)
        if logger is not None and (epoch % 10 == 9 or epoch == s["epochs"] - 1):
            logger.info(f"epoch {epoch + 1:4d}/{s['epochs']}  InfoNCE "
                        + "/".join(f"{v:.4f}" for v in epoch_losses[-1].cpu().numpy())
                        + f"  ({time.perf_counter() - t0:.1f} s)")
    losses = torch.stack(epoch_losses).cpu().numpy() if epoch_losses else np.zeros((0, len(seeds)))
    rows = [{"seed": seed, "epoch": epoch + 1, "loss": losses[epoch, k]}
            for epoch in range(len(losses)) for k, seed in enumerate(seeds)]
    return initial, params, pd.DataFrame(rows, columns=["seed", "epoch", "loss"])


def train_job(protocol, inputs, *, device="cpu", logger=None, probes=True, dtype=None):
    """The ssl_train job (mnist1d.experiments: job functions): train the seeds of `protocol`
    (protocol_from_config) as one ensemble on inputs["dataset"]'s signals, probe every layer
    before and after training, embed every example (train, then test) by seed 0's output.

    Returns "csv" (the probes, `probe`), "history" (train_ssl's) and "embeddings" (arrays
    before, after: the 16-d output of seed 0 on every example; y: their labels; seed). With
    probes=False (gpu_check: the probes are the same CPU code on any device) no "csv".
    dtype None = float32."""
    say = logger.info if logger is not None else (lambda line: None)
    p, data = protocol, inputs["dataset"]
    t0 = time.perf_counter()
    initial, final, history = train_ssl(data["x"], p["seeds"], p["settings"], device=device,
                                        dtype=dtype, compile=p["compile"], logger=logger)
    say(f"trained in {time.perf_counter() - t0:.1f} s")
    outputs = {}
    if probes:
        t1 = time.perf_counter()
        table = probe(data, {"before": initial, "after": final}, p["seeds"], knn_k=p["knn_k"],
                      max_iter=p["probe_max_iter"])
        say(f"probes in {time.perf_counter() - t1:.1f} s\n" + table.to_string(index=False))
        for line in check_targets(table):
            say(line)
        outputs["csv"] = table
    outputs["history"] = history
    x_all = np.concatenate([data["x"], data["x_test"]])
    outputs["embeddings"] = {"before": representations(initial, x_all, 0)["output"],
                             "after": representations(final, x_all, 0)["output"],
                             "y": np.concatenate([data["y"], data["y_test"]]),
                             "seed": p["seeds"][0]}
    return outputs


def variant_job(protocol, inputs, *, device="cpu", logger=None, probes=True, dtype=None):
    """The ssl_variant job (mnist1d.experiments: job functions): model variant
    protocol["variant"] (variant_protocol) trained like the main model, then probed after
    training only. Returns "csv" (the probes) and "history"; with probes=False (gpu_check, as
    train_job's) the history only. dtype None = float32."""
    say = logger.info if logger is not None else (lambda line: None)
    p, data = protocol, inputs["dataset"]
    t0 = time.perf_counter()
    say(f"model {p['variant']}: projector {p['settings']['projector']}")
    _, final, history = train_ssl(data["x"], p["seeds"], p["settings"], device=device,
                                  dtype=dtype, compile=p["compile"], logger=logger)
    say(f"trained in {time.perf_counter() - t0:.1f} s")
    if not probes:
        return {"history": history}
    table = probe(data, {"after": final}, p["seeds"], knn_k=p["knn_k"],
                  max_iter=p["probe_max_iter"])
    say(f"probes done ({time.perf_counter() - t0:.1f} s)\n" + table.to_string(index=False))
    return {"csv": table, "history": history}


def train_plain(x, seed, settings=None, dtype=None, epochs=None, max_steps=None):
    """The straightforward single-seed loop (nn.Module, torch.optim.Adam): the test reference;
    dtype None = float64."""
    import torch

    dtype = torch.float64 if dtype is None else dtype

    s = settings_of(settings)
    x = torch.as_tensor(np.asarray(x), dtype=dtype)
    torch.manual_seed(seed)
    net = build(s).to(dtype)
    opt = torch.optim.Adam(net.parameters(), lr=s["lr"])
    draws, losses, bs = Draws([seed], len(x), s), [], s["batch_size"]
    for _ in range(epochs or s["epochs"]):
        perm = draws.epoch()[0]
        for b in range(draws.steps_per_epoch):
            if max_steps is not None and len(losses) == max_steps:
                return net, losses
            shifts, slopes, offsets = (t[0] for t in draws.augmentations())
            xb = x[perm[b * bs:(b + 1) * bs]]
            views = torch.cat([augment(xb, shifts[i], slopes[i], offsets[i]) for i in range(2)])
            z = net(views)["output"]
            loss = contrastive_loss(s)(z[:bs], z[bs:], s["temperature"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return net, losses


def representations(params, x, k, chunk=1000):
    """Every layer's output of member k on x (N, 40), as float64 numpy arrays."""
    import torch

    sub = {name: p[k:k + 1] for name, p in params.items()}
    x = torch.as_tensor(np.asarray(x)).to(sub["conv1.weight"])
    with torch.no_grad():
        parts = [forward(sub, x[i:i + chunk].unsqueeze(0), layers=True)
                 for i in range(0, len(x), chunk)]
    return {name: torch.cat([p[name][0] for p in parts]).double().cpu().numpy()
            for name in param_layers(params)}


def probe(data, params_by_stage, seeds, knn_k=10, max_iter=1000):
    """kNN (k, cosine) and linear-probe test accuracy per layer, stage and seed: a tidy frame.
    The raw input does not depend on the seed or stage and is scored once (stage 'input')."""
    from mnist1d.experiments.tsne import knn_accuracy, linear_accuracy

    y, y_test = np.asarray(data["y"]), np.asarray(data["y_test"])
    rows = []

    def score(layer, stage, seed, a, b):
        rows.append({"layer": layer, "dim": a.shape[1], "stage": stage, "seed": seed,
                     "knn_acc": knn_accuracy(a, y, b, y_test, k=knn_k, metric="cosine"),
                     "linear_acc": linear_accuracy(a, y, b, y_test, max_iter=max_iter,
                                                   standardize=True)})

    x, x_test = np.asarray(data["x"], np.float64), np.asarray(data["x_test"], np.float64)
    score("input", "input", -1, x, x_test)
    for stage, params in params_by_stage.items():
        for k, seed in enumerate(seeds):
            tr, te = representations(params, data["x"], k), representations(params, data["x_test"], k)
            for layer in param_layers(params)[1:]:
                score(layer, stage, seed, tr[layer], te[layer])
    return pd.DataFrame(rows)


def check_targets(table):
    after = table[table.stage == "after"].groupby("layer")[["knn_acc", "linear_acc"]].mean()
    lin, knn = after.loc["conv3", "linear_acc"], after.loc["output", "knn_acc"]
    return [f"linear probe on the 125-d features {lin:.1f} % -> "
            f"{'met' if lin >= 78 else 'NOT met'} (target >= 78; published about 82)",
            f"kNN (k=10, cosine) on the 16-d output {knn:.1f} % -> "
            f"{'met' if knn >= 70 else 'NOT met'} (target >= 70; published about 75)"]


def plot_ssl(table, emb_before, emb_after, y):
    """t-SNE of the 16-d output before and after training; per-layer probe accuracies."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from mnist1d.plotting import CLASS_COLORS
    from mnist1d.experiments.tsne import scatter

    fig = plt.figure(figsize=(15, 4.8))
    gs = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.35])
    ax0, ax1, ax2 = fig.add_subplot(gs[0]), fig.add_subplot(gs[1]), fig.add_subplot(gs[2])
    scatter(ax0, emb_before, y, "16-d output before training (t-SNE)")
    scatter(ax1, emb_after, y, "16-d output after contrastive training (t-SNE)")
    ax1.legend(handles=[Line2D([], [], marker="o", ls="", color=CLASS_COLORS[c], label=str(c))
                        for c in range(10)], title="digit", loc="center left",
               bbox_to_anchor=(1.0, 0.5), fontsize=8)
    raw = table[table.layer == "input"].iloc[0]
    names = list(LAYERS[1:])
    xs = np.arange(len(names))
    styles = {("before", "knn_acc"): ("tab:gray", "o", "--"), ("before", "linear_acc"): ("tab:gray", "s", "-"),
              ("after", "knn_acc"): ("tab:blue", "o", "--"), ("after", "linear_acc"): ("tab:red", "s", "-")}
    for (stage, metric), (color, marker, ls) in styles.items():
        g = table[table.stage == stage].groupby("layer")[metric]
        mean, lo, hi = (g.agg(f).reindex(names).to_numpy() for f in ("mean", "min", "max"))
        label = f"{'kNN (k=10, cosine)' if metric == 'knn_acc' else 'linear probe'}, {stage} training"
        ax2.errorbar(xs, mean, yerr=[mean - lo, hi - mean], color=color, marker=marker, ls=ls,
                     capsize=2, label=label)
    ax2.axhline(raw.knn_acc, color="k", ls="--", lw=1, label=f"raw input, kNN cosine ({raw.knn_acc:.1f} %)")
    ax2.axhline(raw.linear_acc, color="k", ls=":", lw=1,
                label=f"raw input, linear ({raw.linear_acc:.1f} %)")
    dims = table.drop_duplicates("layer").set_index("layer")["dim"]
    ax2.set_xticks(xs)
    ax2.set_xticklabels([f"{LAYER_LABELS[n]}\n({dims[n]}-d)" for n in names], fontsize=8)
    ax2.set_ylabel("test accuracy (%)")
    ax2.set_ylim(0, 100)
    ax2.legend(fontsize=7, loc="lower right")
    seeds = table[table.stage == "after"].seed.nunique()
    ax2.set_title(f"Probes per layer (mean of {seeds} seeds, bars min to max)")
    fig.suptitle("Self-supervised contrastive learning on MNIST-1D (SimCLR-style, no labels)")
    fig.tight_layout()
    return fig


# --- the guillotine: every model variant, probed layer by layer ------------------------------

# The notebook's linear probes by layer (self-supervised-learning.ipynb, cells 13, 16, 19; one run)
# (mnist1d.experiments.published)
NOTEBOOK_LINEAR = dict(published.SSL_LINEAR_BY_LAYER)
GUILLOTINE_STYLES = {MAIN_MODEL: ("k", "o", "-"), "none": ("tab:blue", "s", "--"),
                     "deep": ("tab:red", "^", "-.")}


def guillotine_table(tables):
    """Per-layer probe accuracy of every model after training, over seeds.

    `tables`: {model name: its probe table (probe's output; only stages 'input' and 'after'
    are used)}. Returns a tidy frame: model, depth (0 = raw input, as the notebook numbers the
    layers), layer, dim, metric (linear_acc / knn_acc), mean, std (over seeds, ddof 1; 0 for the
    raw input, which has one value), min, max, n_seeds."""
    rows = []
    for model, table in tables.items():
        t = table[table.stage.isin(["input", "after"])]
        order = list(dict.fromkeys(t.layer))          # the probe's order: input first
        if not order or order[0] != "input":
            raise ValueError(f"ssl guillotine: the table of model {model!r} has no raw-input row")
        for depth, layer in enumerate(order):
            part = t[t.layer == layer]
            for metric in ("linear_acc", "knn_acc"):
                v = part[metric].to_numpy(float)
                rows.append({"model": model, "depth": depth, "layer": layer,
                             "dim": int(part["dim"].iloc[0]), "metric": metric,
                             "mean": v.mean(), "std": v.std(ddof=1) if len(v) > 1 else 0.0,
                             "min": v.min(), "max": v.max(), "n_seeds": len(v)})
    return pd.DataFrame(rows)


def guillotine_markdown(table):
    """The linear-probe table as Markdown: one row per model, one column per depth."""
    lin = table[table.metric == "linear_acc"]
    depths = sorted(lin.depth.unique())
    lines = ["# SSL: linear probe test accuracy by layer (mean ± std over seeds)", "",
             "| model | " + " | ".join(f"layer {d}" for d in depths) + " |",
             "|---|" + "---|" * len(depths)]
    for model, part in lin.groupby("model", sort=False):
        cells = {r.depth: f"{r.mean:.1f} ± {r.std:.1f} ({r.layer}, {r.dim}-d)"
                 for r in part.itertuples()}
        lines.append(f"| {model} | " + " | ".join(cells.get(d, "") for d in depths) + " |")
    lines += ["", "Layer 0 is the raw input; the notebook's with-projector row: "
              + " / ".join(f"{v:g}" for v in published.SSL_LINEAR_BY_LAYER[MAIN_MODEL]) + "."]
    return "\n".join(lines) + "\n"


def plot_guillotine(table, variants=None):
    """Linear-probe (left) and kNN (right) test accuracy by layer, one line per model, bars: std
    over seeds; the projector's first layer marked for each model (the guillotine)."""
    from mnist1d import plotting

    plt = plotting.plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.9), sharey=True)
    models_ = list(dict.fromkeys(table.model))
    for ax, metric, title in ((axes[0], "linear_acc", "Linear probe (logistic regression)"),
                              (axes[1], "knn_acc", "kNN probe (k = 10, cosine)")):
        for i, model in enumerate(models_):
            part = table[(table.model == model) & (table.metric == metric)].sort_values("depth")
            color, marker, ls = GUILLOTINE_STYLES.get(model, (f"C{i}", "o", ":"))
            n_proj = sum(1 for layer in part.layer if layer.startswith("hidden") or layer == "output")
            label = f"{model} ({n_proj} projector layer{'s' if n_proj != 1 else ''}, " \
                    f"{part.n_seeds.max()} seed{'s' if part.n_seeds.max() != 1 else ''})"
            ax.errorbar(part.depth, part["mean"], yerr=part["std"], color=color, marker=marker,
                        ls=ls, capsize=3, label=label)
            best = part.loc[part["mean"].idxmax()]
            ax.plot(best.depth, best["mean"], marker="*", ms=14, color=color, mfc="none")
            published = NOTEBOOK_LINEAR.get(model)
            if metric == "linear_acc" and published and len(published) == len(part):
                ax.plot(range(len(published)), published, ls="", marker="x", ms=7, color=color,
                        alpha=0.8, label=f"{model}: the notebook (one run)")
        ax.axvline(3, color="gray", lw=0.8, ls=":")
        ax.text(3.05, 0.97, "projector ->", transform=ax.get_xaxis_transform(), fontsize=8,
                color="gray", va="top")
        depths = sorted(table.depth.unique())
        ax.set_xticks(depths)
        ax.set_xticklabels(["raw\ninput" if d == 0 else (f"conv {d}" if d <= 3 else f"proj {d - 3}")
                            for d in depths], fontsize=8)
        ax.set_xlabel("layer")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    low = float((table["mean"] - table["std"]).min())
    axes[0].set_ylim(min(20.0, 5 * np.floor(low / 5) - 5), 100)
    handles, labels = axes[0].get_legend_handles_labels()
    # one column per model: this run's line, then the notebook's crosses
    order = sorted(range(len(labels)), key=lambda i: (models_.index(labels[i].split(" ")[0].rstrip(":"))
                                                      if labels[i].split(" ")[0].rstrip(":") in models_
                                                      else len(models_), "notebook" in labels[i]))
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3, frameon=False)
    fig.suptitle("SSL guillotine: probe accuracy through the layers of three contrastive models "
                 "(mean ± std over seeds; star: each model's best layer)")
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig
