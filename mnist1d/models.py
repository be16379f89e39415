"""The benchmark models of the paper (its benchmark table: logistic, MLP, CNN, GRU; and the
pooling CNN), plain and as seed ensembles.

Each architecture exists twice:

* a plain `torch.nn.Module` (`build(spec)`), written as the paper's reference code does it; it
  defines the parameters, their names and their initialisation, and is the baseline of the
  benchmarks and of the equality tests;
* an ensemble forward (`forward(spec, params, x)`) over parameters stacked along a leading seed
  axis K: parameter `name` of shape (K, *shape), member k initialised exactly as
  `build(spec)` would be after `torch.manual_seed(seeds[k])` (`init_params`). K seeds then cost
  a few batched products (bmm, im2col convolution, one recurrence for every GRU) instead of K
  separate models.

A model spec is a dict: {"name": "mlp", "hidden": 100, ...}; `mnist1d.specs.spec_of(name_or_dict)`
fills in the defaults. A user's own module is the spec {"name": "module", "class":
"package.module:Class", "kwargs": {...}, "input_size": N, "output_size": 10}
(`mnist1d.specs.spec_for` makes it from the config's `models:` section); its ensemble forward is
generic: torch.func.functional_call under vmap over the stacked parameters. Every model maps
(B, 40) inputs to (B, 10) logits; every ensemble forward maps (B, 40) shared inputs or
(K, B, 40) per-member inputs to (K, B, 10).
"""
from mnist1d._extras import require
require("torch", extra="torch", by=__name__)

import torch
import torch.nn.functional as F
from torch import nn

from mnist1d.specs import (CNN_LAYERS, DEFAULTS, POOLINGS, cnn_length, is_module, pool_cnn_length,
                           spec_of)


# ---------------------------------------------------------------------------------------------
# A user's own torch.nn.Module: import, build, check (its spec: mnist1d.specs.module_spec)

def import_class(class_path, key="model"):
    """The object that "package.module:Attribute" names. Looked up on sys.path (installed
    packages, PYTHONPATH), then in the working directory, then in the folder that holds the
    mnist1d package (the repository root): both are added to the end of sys.path, so that
    `examples` or a package of your own next to the Snakefile is found, in Snakemake's main
    process and in every job."""
    import importlib
    import os
    import sys

    module_name, _, attribute = class_path.partition(":")
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder in (os.getcwd(), repository):           # after what is installed / PYTHONPATH
        if folder not in sys.path:
            sys.path.append(folder)
    try:
        module = importlib.import_module(module_name)
    except Exception as err:
        raise ValueError(f"config key '{key}.class': cannot import {module_name!r} "
                         f"({type(err).__name__}: {err})") from None
    obj = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"config key '{key}.class': module {module_name!r} has no "
                             f"attribute {attribute!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"config key '{key}.class': {class_path!r} is not a class or callable")
    return obj


def _build_module(spec):
    """The user's class called with its kwargs, plus input_size / output_size where its
    signature has parameters of those names (and the kwargs do not set them)."""
    import inspect

    key = f"models.{spec.get('label')}" if spec.get("label") else "model"
    cls = import_class(spec["class"], key)
    kwargs = dict(spec["kwargs"])
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        parameters = {}
    for name in ("input_size", "output_size"):
        if name in parameters and name not in kwargs:
            kwargs[name] = spec[name]
    try:
        module = cls(**kwargs)
    except Exception as err:
        raise ValueError(f"config key '{key}.kwargs': {spec['class']}(**{kwargs}) failed "
                         f"({type(err).__name__}: {err})") from None
    if not isinstance(module, nn.Module):
        raise ValueError(f"config key '{key}.class': {spec['class']} made a "
                         f"{type(module).__name__}, not a torch.nn.Module")
    return module


def check_module(spec, key=None):
    """Import and build a user's module and run a (2, input_size) batch through it: the output
    must be (2, output_size). Raises ValueError naming the config key."""
    key = key or (f"models.{spec.get('label')}" if spec.get("label") else "model")
    module = _build_module(spec)
    x = torch.randn(2, spec["input_size"])
    try:
        with torch.no_grad():
            out = module.eval()(x)
    except Exception as err:
        raise ValueError(f"config key '{key}.class': the forward of a (2, {spec['input_size']}) "
                         f"batch failed ({type(err).__name__}: {err})") from None
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if shape != (2, spec["output_size"]):
        raise ValueError(f"config key '{key}.class': a (2, {spec['input_size']}) batch gave "
                         f"output {shape}, expected (2, {spec['output_size']}) logits")
    return module


def ensemble_support(spec):
    """(True, "") when the generic ensemble path (torch.func.functional_call under vmap) can
    train K seeds of a user's module together; else (False, why). It cannot when the module has
    buffers (e.g. BatchNorm's running statistics, which its forward updates in place) or when
    the forward or its gradient fails under vmap (e.g. random dropout, data-dependent control
    flow, in-place writes to its inputs)."""
    module = _build_module(spec)
    buffers = [name for name, _ in module.named_buffers()]
    if buffers:
        return False, f"it has buffers {buffers[:4]}{' ...' if len(buffers) > 4 else ''}"
    try:
        params = {n: torch.stack([p.detach()] * 2) for n, p in module.named_parameters()}
        x = torch.randn(3, spec["input_size"])
        torch.func.grad(lambda p: _forward_module(spec, p, x).sum())(params)
        torch.func.grad(lambda p: _forward_module(spec, p, x.expand(2, 3, -1)).sum())(params)
    except Exception as err:
        return False, f"its forward does not run under vmap ({type(err).__name__}: {err})"
    return True, ""


_TEMPLATES = {}


def _template(spec):
    """One instance of a user's module per spec, whose parameters functional_call replaces."""
    import json

    key = json.dumps(spec, sort_keys=True)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = _build_module(spec)
    return _TEMPLATES[key]


def _forward_module(spec, params, x):
    """The generic ensemble forward: the module with member k's parameters on x (shared) or x[k]."""
    module = _template(spec)

    def one(p, xb):
        return torch.func.functional_call(module, p, (xb,))

    return torch.vmap(one, in_dims=(0, None if x.dim() == 2 else 0))(params, x)


# ---------------------------------------------------------------------------------------------
# Plain modules (the reference definitions)

class MLP(nn.Module):
    """40 -> h -> h -> 10; h = relu(W1 x); h = h + relu(W2 h) (residual) or relu(W2 h); W3 h."""

    def __init__(self, input_size, output_size, hidden, residual=True):
        super().__init__()
        self.residual = residual
        self.linear1 = nn.Linear(input_size, hidden)
        self.linear2 = nn.Linear(hidden, hidden)
        self.linear3 = nn.Linear(hidden, output_size)

    def forward(self, x):
        h = self.linear1(x).relu()
        h2 = self.linear2(h).relu()
        h = h + h2 if self.residual else h2
        return self.linear3(h)


class CNN(nn.Module):
    """Three strided convolutions with ReLU, flattened into one linear layer."""

    def __init__(self, input_size, output_size, channels):
        super().__init__()
        (k1, s1, p1), (k2, s2, p2), (k3, s3, p3) = CNN_LAYERS
        self.conv1 = nn.Conv1d(1, channels, k1, stride=s1, padding=p1)
        self.conv2 = nn.Conv1d(channels, channels, k2, stride=s2, padding=p2)
        self.conv3 = nn.Conv1d(channels, channels, k3, stride=s3, padding=p3)
        self.linear = nn.Linear(channels * cnn_length(input_size), output_size)

    def forward(self, x):
        h = x.view(-1, 1, x.shape[-1])
        h = self.conv1(h).relu()
        h = self.conv2(h).relu()
        h = self.conv3(h).relu()
        return self.linear(h.reshape(h.shape[0], -1))


class GRU(nn.Module):
    """A bidirectional GRU reading one value per step; all outputs flattened into a linear layer."""

    def __init__(self, input_size, output_size, hidden):
        super().__init__()
        self.gru = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden * input_size, output_size)

    def forward(self, x):
        out, _ = self.gru(x.view(*x.shape[:2], 1))
        return self.linear(out.reshape(out.shape[0], -1))


class PoolCNN(nn.Module):
    """conv 1->C (3, padding 1, stride s), ReLU, pool; conv C->C (same), ReLU, pool; linear."""

    def __init__(self, input_size, output_size, channels, pooling):
        super().__init__()
        stride, self.window = POOLINGS[pooling]
        self.pooling = pooling
        self.conv1 = nn.Conv1d(1, channels, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=stride, padding=1)
        self.linear = nn.Linear(channels * pool_cnn_length(input_size, pooling), output_size)

    def pool(self, h):
        if self.pooling == "max":
            return F.max_pool1d(h, self.window)
        if self.pooling == "avg":
            return F.avg_pool1d(h, self.window)
        if self.pooling == "l2":
            return F.lp_pool1d(h, 2, self.window)
        return h

    def forward(self, x):
        h = x.view(-1, 1, x.shape[-1])
        h = self.pool(self.conv1(h).relu())
        h = self.pool(self.conv2(h).relu())
        return self.linear(h.reshape(h.shape[0], -1))


def build(spec):
    """The plain nn.Module of a spec (its parameters drawn from torch's global generator)."""
    if is_module(spec):
        return _build_module(spec)
    s = spec_of(spec)
    if s["name"] == "logistic":
        return nn.Linear(s["input_size"], s["output_size"])
    if s["name"] == "mlp":
        return MLP(s["input_size"], s["output_size"], s["hidden"], s["residual"])
    if s["name"] == "cnn":
        return CNN(s["input_size"], s["output_size"], s["channels"])
    if s["name"] == "pool_cnn":
        return PoolCNN(s["input_size"], s["output_size"], s["channels"], s["pooling"])
    return GRU(s["input_size"], s["output_size"], s["hidden"])


def count_parameters(spec):
    return sum(p.numel() for p in build(spec).parameters())


# ---------------------------------------------------------------------------------------------
# Seed ensembles: parameters stacked along a leading axis K

def init_params(spec, seeds, dtype=torch.float32, device="cpu"):
    """{name: (K, *shape)}: member k is build(spec) after torch.manual_seed(seeds[k]).

    Torch's global generator is left as it was.
    """
    state = torch.random.get_rng_state()
    try:
        members = []
        for seed in seeds:
            torch.manual_seed(int(seed))
            members.append(dict(build(spec).named_parameters()))
    finally:
        torch.random.set_rng_state(state)
    return {name: torch.stack([m[name].detach() for m in members]).to(device=device, dtype=dtype)
            for name in members[0]}


def member_state_dict(params, k):
    """The plain module's state_dict of member k (load it with build(spec).load_state_dict)."""
    return {name: p[k].detach().clone() for name, p in params.items()}


def _linear(x, weight, bias):
    """x (B, in) shared or (K, B, in); weight (K, out, in); bias (K, out) -> (K, B, out)."""
    if x.dim() == 2:
        x = x.expand(weight.shape[0], *x.shape)
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def _conv(h, weight, bias, kernel, stride, padding):
    """Channels-last 1-D convolution by im2col: h (K, B, L, C) -> (K, B, L_out, C_out).

    The columns are `kernel` strided slices side by side (position-major, channel-minor), whose
    backward is cheap (unfold's is not); the weight is permuted to the same order.
    """
    K, B, L, C = h.shape
    l_out = (L + 2 * padding - kernel) // stride + 1
    h = F.pad(h, (0, 0, padding, padding))                # pad the length axis
    span = stride * (l_out - 1) + 1
    cols = torch.cat([h[:, :, j:j + span:stride] for j in range(kernel)], -1)  # (K, B, L_out, k*C)
    w = weight.permute(0, 3, 2, 1).reshape(K, kernel * C, -1)                 # (K, k*C, C_out)
    out = torch.baddbmm(bias.unsqueeze(1), cols.reshape(K, B * l_out, kernel * C), w)
    return out.view(K, B, l_out, -1)


def _forward_mlp(spec, p, x):
    """Activations run feature-major, (K, features, B): each layer is W h + b, so the gradient of
    every weight comes out of its matrix product in the weight's own (out, in) layout. Batch-major
    (x W^T) hands the optimiser a transposed gradient, and reading it costs the compiled step of
    the 40-500-500-10 MLP a third of its time (benchmarks/speed_lottery.py)."""
    K = p["linear1.weight"].shape[0]
    h = x.transpose(-1, -2)
    if h.dim() == 2:
        h = h.expand(K, *h.shape)
    h = _linear_feature_major(h, p["linear1.weight"], p["linear1.bias"]).relu()
    h2 = _linear_feature_major(h, p["linear2.weight"], p["linear2.bias"]).relu()
    h = h + h2 if spec["residual"] else h2
    return _linear_feature_major(h, p["linear3.weight"], p["linear3.bias"]).transpose(1, 2)


def _linear_feature_major(h, weight, bias):
    """h (K, in, B); weight (K, out, in); bias (K, out) -> (K, out, B)."""
    return torch.baddbmm(bias.unsqueeze(2), weight, h)


def _forward_cnn(spec, p, x):
    K = p["conv1.weight"].shape[0]
    h = x.unsqueeze(-1)                                    # (.., B, L, 1): channels last
    if h.dim() == 3:
        h = h.expand(K, *h.shape)
    for i, (kernel, stride, padding) in enumerate(CNN_LAYERS, start=1):
        h = _conv(h, p[f"conv{i}.weight"], p[f"conv{i}.bias"], kernel, stride, padding).relu()
    h = h.transpose(2, 3).reshape(K, h.shape[1], -1)       # flatten channel-major, as (B, C, L)
    return _linear(h, p["linear.weight"], p["linear.bias"])


def _pool(h, pooling, window):
    """Pooling over the length axis of channels-last h (K, B, L, C), as F.*_pool1d computes it."""
    if window == 1:
        return h
    K, B, L, C = h.shape
    h = h[:, :, :L - L % window].reshape(K, B, L // window, window, C)
    if pooling == "max":
        return h.max(3).values
    if pooling == "avg":
        return h.mean(3)
    out = h.pow(2).mean(3)                                 # l2: F.lp_pool1d's formula, whose
    return (torch.sign(out) * F.relu(torch.abs(out))).mul(window).pow(0.5)  # gradient is 0 at 0


def _forward_pool_cnn(spec, p, x):
    K = p["conv1.weight"].shape[0]
    stride, window = POOLINGS[spec["pooling"]]
    h = x.unsqueeze(-1)
    if h.dim() == 3:
        h = h.expand(K, *h.shape)
    for i in (1, 2):
        h = _conv(h, p[f"conv{i}.weight"], p[f"conv{i}.bias"], 3, stride, 1).relu()
        h = _pool(h, spec["pooling"], window)
    h = h.transpose(2, 3).reshape(K, h.shape[1], -1)
    return _linear(h, p["linear.weight"], p["linear.bias"])


def _forward_gru(spec, p, x):
    """Both directions of all K members run as one recurrence over a batch of 2K stacks.

    The equations are torch.nn.GRU's: r, z = sigmoid(W_i x + b_i + W_h h + b_h) (their r and z
    rows), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h = (1 - z) n + z h.
    """
    K, H = p["linear.weight"].shape[0], spec["hidden"]
    if x.dim() == 2:
        x = x.expand(K, *x.shape)
    T = x.shape[-1]
    xs = torch.cat([x, x.flip(-1)])                        # (2K, B, T): the reverse reads backwards
    w_ih = torch.cat([p["gru.weight_ih_l0"], p["gru.weight_ih_l0_reverse"]])[..., 0]  # (2K, 3H)
    b_ih = torch.cat([p["gru.bias_ih_l0"], p["gru.bias_ih_l0_reverse"]])
    w_hh = torch.cat([p["gru.weight_hh_l0"], p["gru.weight_hh_l0_reverse"]]).transpose(1, 2)
    b_hh = torch.cat([p["gru.bias_hh_l0"], p["gru.bias_hh_l0_reverse"]]).unsqueeze(1)
    gi = xs.unsqueeze(-1) * w_ih[:, None, None, :] + b_ih[:, None, None, :]  # (2K, B, T, 3H)
    h = xs.new_zeros(2 * K, x.shape[1], H)
    outs = []
    for gi_t in gi.unbind(2):
        gh = torch.baddbmm(b_hh, h, w_hh)                  # (2K, B, 3H)
        rz = torch.sigmoid(gi_t[..., :2 * H] + gh[..., :2 * H])
        r, z = rz[..., :H], rz[..., H:]
        n = torch.tanh(gi_t[..., 2 * H:] + r * gh[..., 2 * H:])
        h = n + z * (h - n)
        outs.append(h)
    out = torch.stack(outs, 2)                             # (2K, B, T, H)
    out = torch.cat([out[:K], out[K:].flip(2)], -1)        # (K, B, T, 2H): nn.GRU's layout
    return _linear(out.reshape(K, x.shape[1], T * 2 * H), p["linear.weight"], p["linear.bias"])


def forward(spec, params, x):
    """Logits (K, B, out) of the K stacked members on x: (B, in) shared or (K, B, in)."""
    name = spec["name"]
    if name == "module":
        return _forward_module(spec, params, x)
    if name == "logistic":
        return _linear(x, params["weight"], params["bias"])
    if name == "mlp":
        return _forward_mlp(spec, params, x)
    if name == "cnn":
        return _forward_cnn(spec, params, x)
    if name == "gru":
        return _forward_gru(spec, params, x)
    if name == "pool_cnn":
        return _forward_pool_cnn(spec, params, x)
    raise ValueError(f"model 'name': {name!r} is not one of {sorted(DEFAULTS)}")
