"""The training engine: K seeds of one model trained together, one history out.

    history = train(data, model="cnn", protocol={"lr": 1e-2}, seeds=[0, 1, 2])

`data` is a dataset dict (x, y, x_test, y_test); `model` a spec (see mnist1d.models; a user's
module too: its seeds take the generic functional_call + vmap path, or, when vmap cannot batch
it, train one after the other with `train_plain`, saying why in the log);
`protocol` the optimiser and schedule (mnist1d.specs.PROTOCOL_DEFAULTS: the paper's Adam
protocol). The seeds form one ensemble whose parameters are stacked along a leading axis K
(mnist1d.models); Adam and SGD act element by element, so member k follows exactly the
trajectory of a run of seed k alone (tests/test_train.py checks this against the plain PyTorch
loop `train_plain`).

A step is: the batch, the K losses, their gradients (torch.func), the optimiser update, all in
place. With `compile=True` that whole step is one torch.compile graph. Nothing synchronises with
the host between evaluations, so on CUDA the steps queue up. On CUDA the step (eager or compiled)
is also captured once as a CUDA graph after a few warm-up steps and replayed every step after
(`GraphedStep`, switch `cuda_graph=True`): one launch per step instead of tens to thousands, the
same trajectory. Its CPU twin is tested here; the CUDA capture itself has not yet run in this
repository's tests (benchmarks/gpu_check.py runs the jobs on CUDA against the CPU).

The history is a tidy DataFrame, one row per (seed, evaluation step): seed, step, train_loss,
test_loss (the mean training loss on the whole set: cross-entropy, or with protocol
`loss="mse"` the mean squared error against one-hot targets, torch's MSELoss), train_acc,
test_acc (percent), batch_loss (the loss of that step's batch before its update).
`labels=` ((K, n) integers) gives each member its own training labels (e.g. label noise);
train loss and accuracy are then measured against each member's own labels. As in the paper's code, steps run 0..steps and the
model is evaluated after the update of every step divisible by eval_every.
"""
from mnist1d._extras import require
require("torch", "pandas", extra="torch", by=__name__)

import time
import warnings

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mnist1d import models, specs
from mnist1d.specs import EVAL_CHUNK, HISTORY_COLUMNS, protocol_of


def as_tensors(data, device, dtype):
    """x, y, x_test, y_test of a dataset dict as tensors on `device`."""
    out = {}
    for key in ("x", "y", "x_test", "y_test"):
        if key not in data:
            raise KeyError(f"dataset has no {key!r} array")
        value = torch.as_tensor(np.ascontiguousarray(data[key]))   # row-major on every device
        out[key] = value.to(device, torch.long if key.startswith("y") else dtype)
    return out


def member_losses(logits, y, loss="cross_entropy"):
    """Mean loss per member: logits (K, B, C), y (B,) or (K, B) -> (K,).

    cross_entropy: F.cross_entropy; mse: the mean over examples and outputs of the squared
    difference to the one-hot target (torch.nn.MSELoss of a single run).
    """
    K, B, C = logits.shape
    y = y.expand(K, B) if y.dim() == 1 else y
    if loss == "mse":
        target = F.one_hot(y, C).to(logits.dtype)
        return (logits - target).square().mean((1, 2))
    return F.cross_entropy(logits.reshape(K * B, C), y.reshape(K * B), reduction="none").view(K, B).mean(1)


# --- functional optimisers, torch.optim's formulas, element by element -----------------------

def init_state(params, protocol):
    state = {"t": torch.zeros(1, dtype=torch.float64, device=next(iter(params.values())).device)}
    for name, p in params.items():
        if protocol["optimizer"] == "adam":
            state[f"m.{name}"], state[f"v.{name}"] = torch.zeros_like(p), torch.zeros_like(p)
        elif protocol["momentum"]:
            state[f"buf.{name}"] = torch.zeros_like(p)
    return state


def update(params, grads, state, protocol, multi_tensor=False):
    """One optimiser step, in place (as torch.optim.Adam / SGD with foreach=False).

    multi_tensor=True runs Adam as `torch._foreach_*` operations over all parameters at once: the
    same element-wise arithmetic in the same order, so the same bits, with a tenth of the operator
    calls (the eager step; tests/test_train.py holds the two equal). A compiled step keeps the
    per-parameter form, which its graph fuses anyway."""
    lr, wd = protocol["lr"], protocol["weight_decay"]
    state["t"].add_(1)
    if protocol["optimizer"] == "adam":
        b1, b2 = protocol["betas"]
        t = state["t"]
        bias1, bias2_sqrt = 1 - b1 ** t, (1 - b2 ** t).sqrt()
    if multi_tensor and protocol["optimizer"] == "adam":
        names = list(params)
        ps, gs = [params[n] for n in names], [grads[n] for n in names]
        if wd:
            gs = [g + wd * p for g, p in zip(gs, ps)]
        dtype = ps[0].dtype
        ms, vs = [state[f"m.{n}"] for n in names], [state[f"v.{n}"] for n in names]
        torch._foreach_lerp_(ms, gs, 1 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, gs, gs, value=1 - b2)
        denom = torch._foreach_sqrt(vs)
        torch._foreach_div_(denom, bias2_sqrt.to(dtype).reshape(()))
        torch._foreach_add_(denom, protocol["eps"])
        steps = torch._foreach_mul(ms, (lr / bias1).to(dtype).reshape(()))
        torch._foreach_div_(steps, denom)
        torch._foreach_sub_(ps, steps)
        return
    for name, p in params.items():
        g = grads[name]
        if wd:
            g = g + wd * p
        if protocol["optimizer"] == "adam":
            m, v = state[f"m.{name}"], state[f"v.{name}"]
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / bias2_sqrt.to(p.dtype)).add_(protocol["eps"])
            p.sub_((lr / bias1).to(p.dtype) * m / denom)
        else:
            if protocol["momentum"]:
                buf = state[f"buf.{name}"]
                g = buf.mul_(protocol["momentum"]).add_(g)
            p.sub_(lr * g)


def make_step(spec, protocol, masks=None, compile=False):
    """step(params, state, xb, yb) -> (K,) batch losses; updates params and state in place."""

    def loss(params, xb, yb):
        if masks is not None:
            params = {name: p * masks[name] if name in masks else p for name, p in params.items()}
        losses = member_losses(models.forward(spec, params, xb), yb, protocol["loss"])
        return losses.sum(), losses.detach()

    def apply(params, grads, state):
        update(params, grads, state, protocol, multi_tensor=not compile)

    return gradient_step(loss, apply, compile)


def gradient_step(loss, apply, compile=False):
    """step(params, state, *batch) -> loss's aux output, after apply(params, grads, state) (in place,
    no grad). loss(params, *batch) -> (scalar to differentiate, aux).

    Compiled: torch.func.grad_and_value under one torch.compile graph (forward, gradient and
    update fused). Eager: the same gradient by plain autograd (torch.autograd.grad), bit for bit
    what torch.func computes, without its per-operation wrapping (3-10x faster per step for the
    small models here when nothing is compiled: benchmarks/speed_engine.py)."""
    if compile:
        grad_fn = torch.func.grad_and_value(loss, has_aux=True)

        def compiled_step(params, state, *batch):
            grads, (_, aux) = grad_fn(params, *batch)
            with torch.no_grad():
                apply(params, grads, state)
            return aux

        return torch.compile(compiled_step, dynamic=False)

    def step(params, state, *batch):
        leaves = {name: p.detach().requires_grad_() for name, p in params.items()}
        with torch.enable_grad():
            total, aux = loss(leaves, *batch)
            grads = torch.autograd.grad(total, list(leaves.values()))
        with torch.no_grad():
            apply(params, dict(zip(leaves, grads)), state)
        return aux

    return step


# --- launch-cutting: the whole step as one CUDA graph ------------------------------------------

GRAPH_WARMUP = 3      # eager steps before the capture (PyTorch's CUDA graph notes use 3)


def use_graph(device, cuda_graph=True):
    """Whether a training loop on `device` replays its step as a CUDA graph: only on CUDA, and
    only when the engine's `cuda_graph` switch is on (the default)."""
    return bool(cuda_graph) and torch.device(device).type == "cuda"


def graphed(step, device, cuda_graph=True, logger=None):
    """`step` as a GraphedStep when use_graph(device, cuda_graph), else `step` itself (so a
    CPU run computes exactly what it did before: it never takes this path)."""
    return GraphedStep(step, device, logger=logger) if use_graph(device, cuda_graph) else step


def _signature(batch):
    return tuple((tuple(b.shape), b.dtype) for b in batch)


def _addresses(params, state):
    return tuple(t.data_ptr() for t in (*params.values(), *state.values()))


class GraphedStep:
    """A training step, step(params, state, *batch) -> aux, replayed as one CUDA graph.

    MNIST-1D's models are tiny: a step on a GPU costs its kernel launches, not its arithmetic
    (a compiled step is 30-40 launches, an eager GRU step over a thousand). Here the whole step
    (forward, gradient, optimiser update) is captured once with torch.cuda.graph and replayed:
    one launch per step. That works because params and the optimiser state (state["t"]
    included) are persistent device tensors updated in place, so their addresses never change;
    the masks of a lottery search are changed in place between rounds, which a replay sees. The
    batch is copied into static input buffers (allocated on the first call with its shapes and
    dtypes) and the step reads those.

    Call by call: the first `warmup` calls are ordinary steps of the run on the static buffers,
    on a side stream (as torch.cuda.graph requires; the same stream then captures); the next
    call captures the step on that stream, which records without running it, and then replays
    it once: that replay is this call's step. So every step of the run runs exactly once, in
    order, and the trajectory is that of the plain step. Every later call copies its batch in
    and replays. A batch whose shapes or dtypes differ from the first one's (a last short
    batch) runs the plain step. If the capture raises, a warning is logged and the plain step
    runs from then on (this call included: the failed capture ran nothing).

    What the graph records is what the step enqueues on the GPU; so the step must not
    synchronise with the host (.item(), printing a tensor, a CPU tensor in the arithmetic) or
    branch on tensor values, and must be called with the same params and state tensors every
    time (checked: other tensors raise ValueError). The engine's steps qualify: the optimiser's
    step count is a device tensor, autograd's backward (torch.autograd.grad) may run inside a
    capture after the warm-up.

    The returned aux is the graph's static output: the next call overwrites it. The callers
    here use it before the next step (train and the lottery search stack it into their history
    rows, which copies; train_ssl adds it to its epoch total); a caller that keeps it longer
    must clone it.

    Which step is captured: whichever the loop built, eager or compiled (torch.compile's default
    mode); the capture records the compiled kernels as well. torch.compile's own graphs
    (mode="reduce-overhead") are not used: they skip a graph whose inputs are mutated when those
    are not module parameters, which is exactly our step (params and state are plain tensors
    updated in place), and they would leave the eager step out.

    On a device that is not CUDA, or with capture=False, this is the CPU twin of the same
    logic: the same static buffers and warm-up count, "capture" only fixes the step to the
    buffers, "replay" runs it there and copies aux into a static output. tests/test_graphs.py
    holds that twin bit-identical to the plain step; the CUDA branch itself needs a GPU.
    """

    def __init__(self, step, device, capture=True, warmup=GRAPH_WARMUP, logger=None):
        self.step, self.device, self.logger = step, torch.device(device), logger
        self.capture = bool(capture) and self.device.type == "cuda"
        self.warmup, self.warmed = int(warmup), 0
        self.plain = False                  # the plain step for the rest of the run
        self.inputs = self.signature = self.addresses = None
        self.graph = self.output = self.stream = None
        self.replays = self.odd_batches = 0

    def __call__(self, params, state, *batch):
        if self.plain:
            return self.step(params, state, *batch)
        if self.inputs is None:
            self.signature = _signature(batch)
            self.inputs = [torch.empty(b.shape, dtype=b.dtype, device=self.device) for b in batch]
            if self.capture:
                self.stream = torch.cuda.Stream(self.device)
        elif _signature(batch) != self.signature:
            self.odd_batches += 1           # e.g. a last short batch: not what was captured
            return self.step(params, state, *batch)
        if self.warmed < self.warmup:
            self.warmed += 1
            return self._warm_step(params, state, batch)
        if self.addresses is None:
            try:
                self._record(params, state)
            except Exception as error:      # noqa: BLE001 - any failure: the plain step
                self._give_up(error)
                return self.step(params, state, *batch)
            self.addresses = _addresses(params, state)
        elif _addresses(params, state) != self.addresses:
            raise ValueError("GraphedStep: called with other params or state tensors than the "
                             "ones it captured; update them in place instead")
        return self._replay(batch)

    def _copy_in(self, batch):
        for static, b in zip(self.inputs, batch):
            static.copy_(b)

    def _warm_step(self, params, state, batch):
        if not self.capture:
            self._copy_in(batch)
            return self.step(params, state, *self.inputs)
        current = torch.cuda.current_stream(self.device)
        self.stream.wait_stream(current)
        with torch.cuda.stream(self.stream):
            self._copy_in(batch)
            aux = self.step(params, state, *self.inputs)
        current.wait_stream(self.stream)
        return aux

    def _record(self, params, state):
        if not self.capture:
            self.graph = lambda: self.step(params, state, *self.inputs)
            return
        graph = torch.cuda.CUDAGraph()
        current = torch.cuda.current_stream(self.device)
        self.stream.wait_stream(current)
        # the outer stream context restores the current stream even when the capture fails
        with torch.cuda.stream(self.stream), torch.cuda.graph(graph, stream=self.stream):
            output = self.step(params, state, *self.inputs)
        current.wait_stream(self.stream)
        self.graph, self.output = graph, output
        if self.logger is not None:
            self.logger.info(f"training step captured as a CUDA graph after {self.warmed} "
                             f"warm-up steps; replayed from now on")

    def _replay(self, batch):
        self._copy_in(batch)
        self.replays += 1
        if self.capture:
            self.graph.replay()
            return self.output
        aux = self.graph()
        if self.output is None:
            self.output = aux
        else:
            self.output.copy_(aux)
        return self.output

    def _give_up(self, error):
        self.plain, self.graph, self.output, self.inputs, self.stream = True, None, None, None, None
        message = (f"CUDA graph capture of the training step failed ({type(error).__name__}: "
                   f"{error}); running the plain step for the rest of this run")
        if self.logger is not None:
            self.logger.warning(message)
        else:
            warnings.warn(message, RuntimeWarning, stacklevel=3)


@torch.no_grad()
def evaluate(spec, params, x, y, masks=None, loss="cross_entropy"):
    """Per-member mean loss and accuracy (percent) on all of x, y ((n,) shared or (K, n))."""
    if masks is not None:
        params = {name: p * masks[name] if name in masks else p for name, p in params.items()}
    loss_sum, correct = 0.0, 0.0
    n = x.shape[-2]
    for start in range(0, n, EVAL_CHUNK):
        logits = models.forward(spec, params, x[..., start:start + EVAL_CHUNK, :])
        yb = y[..., start:start + EVAL_CHUNK]
        loss_sum = loss_sum + member_losses(logits, yb, loss) * yb.shape[-1]
        correct = correct + (logits.argmax(-1) == yb).sum(-1)
    return (loss_sum / n).double(), 100.0 * correct.double() / n


class Batches:
    """The training batch of every step: in order (shared by all members) or reshuffled per
    epoch with one generator per seed (then each member gets its own batch, (K, B, ...)).

    x may be shared (N, in) or per member (K, N, in), e.g. each member on its own view of the
    data; labels y are (N,) shared or (K, N), one row per member. Per-member inputs are taken
    in order only.
    """

    def __init__(self, x, y, protocol, seeds):
        self.x, self.y, self.bs, self.order = x, y, protocol["batch_size"], protocol["order"]
        self.n = y.shape[-1]
        if x.dim() == 3 and self.order != "in_order":
            raise ValueError("per-member inputs (K, N, in) are supported with order 'in_order' only")
        if self.order == "reshuffle":
            self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
            self.epoch, self.perm = -1, None

    def __call__(self, step):
        start = (step * self.bs) % self.n
        if self.order == "in_order":
            return self.x[..., start:start + self.bs, :], self.y[..., start:start + self.bs]
        epoch = (step * self.bs) // self.n
        if epoch != self.epoch:
            self.epoch = epoch
            perm = torch.stack([torch.randperm(self.n, generator=g) for g in self.generators])
            if self.x.device.type == "cuda":   # from pinned memory: the host does not wait for the GPU
                perm = perm.pin_memory().to(self.x.device, non_blocking=True)
            self.perm = perm.to(self.x.device)
        idx = self.perm[:, start:start + self.bs]
        if self.y.dim() == 2:
            return self.x[idx], torch.gather(self.y, 1, idx)
        return self.x[idx], self.y[idx]


def train(data, model, protocol=None, seeds=(0,), device="cpu", dtype=torch.float32,
          compile=False, masks=None, params=None, logger=None, labels=None, cuda_graph=True):
    """Train one ensemble of len(seeds) members; return (history DataFrame, final params).

    `data["x"]` and `data["x_test"]` may be (N, in), shared by all members, or (K, N, in), one
    view of the inputs per member (e.g. flipped or shuffled positions; labels shared).
    `params` overrides the seeds' initialisation ({name: (K, ...)}, e.g. a lottery ticket's
    rewound weights); `masks` ({name: (K, ...)} of 0/1) multiplies the parameters in every
    forward pass. `labels` ((K, n) integers) are each member's own training labels in place of
    data["y"]. `logger` (a logging.Logger) gets one progress line per evaluation.
    `cuda_graph`: on CUDA, replay the step as one CUDA graph (GraphedStep; no effect elsewhere).
    """
    spec, protocol, seeds = specs.spec_of(model), protocol_of(protocol), [int(s) for s in seeds]
    device = torch.device(device)
    if specs.is_module(spec):
        batchable, why = models.ensemble_support(spec)
        if not batchable:
            if masks is not None or params is not None:
                raise ValueError(f"model {specs.model_label(spec)!r}: masks and params need the "
                                 f"ensemble path, which this module cannot take: {why}")
            if logger is not None:
                logger.info(f"{specs.model_label(spec)}: the generic ensemble path cannot batch "
                            f"this module ({why}); training its {len(seeds)} seeds one after "
                            f"the other (plain nn.Module + torch.optim loop)")
            return _train_per_seed(data, spec, protocol, seeds, device, dtype, labels, logger)
    tensors = as_tensors(data, device, dtype)
    if labels is not None:
        labels = torch.as_tensor(np.asarray(labels)).to(device, torch.long)
        if labels.shape != (len(seeds), len(tensors["x"])):
            raise ValueError(f"labels: shape {tuple(labels.shape)}, expected (K, n) = "
                             f"({len(seeds)}, {len(tensors['x'])})")
        tensors["y"] = labels
    if params is None:
        params = models.init_params(spec, seeds, dtype, device)
    else:
        params = {name: p.detach().to(device, dtype).clone() for name, p in params.items()}
    if masks is not None:
        masks = {name: m.to(device, dtype) for name, m in masks.items()}
    state = init_state(params, protocol)
    step_fn = graphed(make_step(spec, protocol, masks, compile), device, cuda_graph, logger)
    batches = Batches(tensors["x"], tensors["y"], protocol, seeds)

    rows, t0 = [], time.perf_counter()
    if logger is not None:
        path = (" through the generic path (torch.func.functional_call under vmap)"
                if specs.is_module(spec) else "")
        logger.info(f"{specs.model_label(spec)}: {len(seeds)} seeds {seeds} as one ensemble"
                    f"{path} on {device}, "
                    f"{dtype}, compile {compile}"
                    f"{', CUDA graph' if use_graph(device, cuda_graph) else ''}; evaluating every {protocol['eval_every']} of "
                    f"{protocol['steps']} steps" + (" (compiling the step first)" if compile else ""))
    for step in range(protocol["steps"] + 1):
        xb, yb = batches(step)
        batch_loss = step_fn(params, state, xb, yb)
        if step == 0 and compile and logger is not None:
            logger.info(f"step compiled in {time.perf_counter() - t0:.1f} s")
        if step % protocol["eval_every"] == 0 or step == protocol["steps"]:
            train_loss, train_acc = evaluate(spec, params, tensors["x"], tensors["y"], masks,
                                             protocol["loss"])
            test_loss, test_acc = evaluate(spec, params, tensors["x_test"], tensors["y_test"], masks,
                                           protocol["loss"])
            row = torch.stack([train_loss, test_loss, train_acc, test_acc, batch_loss.double()])
            rows.append((step, row))
            if logger is not None:
                values = row.double().cpu().numpy()  # one host sync per evaluation
                logger.info(f"step {step:6d}/{protocol['steps']}  train loss {_fmt(values[0])}  "
                            f"test loss {_fmt(values[1])}  train acc {_fmt(values[2], 1)}  "
                            f"test acc {_fmt(values[3], 1)}  ({time.perf_counter() - t0:.1f} s)")
    return history_frame(rows, seeds), params


def _fmt(values, digits=3):
    return "/".join(f"{v:.{digits}f}" for v in values)


def history_frame(rows, seeds):
    steps = np.array([s for s, _ in rows])
    values = torch.stack([r for _, r in rows]).double().cpu().numpy()  # (E, 5, K)
    frames = []
    for k, seed in enumerate(seeds):
        frame = pd.DataFrame(values[:, :, k], columns=HISTORY_COLUMNS[2:])
        frame.insert(0, "step", steps)
        frame.insert(0, "seed", seed)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[HISTORY_COLUMNS]


def _train_per_seed(data, spec, protocol, seeds, device, dtype, labels, logger):
    """The fallback of a module the ensemble path cannot batch: `train_plain` once per seed.
    Returns the same (history, params) as `train`, params stacked along K (with the module's
    buffers: load member k with build(spec).load_state_dict(member_state_dict(params, k)))."""
    if np.asarray(data["x"]).ndim == 3:
        raise ValueError(f"model {specs.model_label(spec)!r}: per-member inputs (K, N, in) need "
                         f"the ensemble path, which this module cannot take")
    histories, states = [], []
    for k, seed in enumerate(seeds):
        history, net = train_plain(data, spec, protocol, seed, dtype,
                                   None if labels is None else np.asarray(labels)[k],
                                   device=device, return_module=True)
        histories.append(history)
        states.append(net.state_dict())     # parameters and buffers (e.g. BatchNorm statistics)
        if logger is not None:
            last = history.iloc[-1]
            logger.info(f"seed {seed}: step {int(last.step)}  test loss {last.test_loss:.3f}  "
                        f"test acc {last.test_acc:.1f}")
    params = {name: torch.stack([s[name].detach() for s in states]) for name in states[0]}
    return pd.concat(histories, ignore_index=True)[HISTORY_COLUMNS], params


def train_plain(data, model, protocol=None, seed=0, dtype=torch.float32, labels=None,
                device="cpu", return_module=False):
    """The straightforward PyTorch loop of one seed (nn.Module, torch.optim, nn losses).

    Batches in order, or reshuffled each epoch by torch.randperm with a generator seeded by
    `seed`; `labels` ((n,)) replace data["y"] for training. The module evaluates in eval mode
    (BatchNorm's running statistics, no dropout), trains in train mode. The baseline of the
    benchmarks, the reference of the equality tests, and the per-seed fallback of a user's
    module that the ensemble path cannot batch (then on `device`). Returns the history (and the
    trained module with `return_module`).
    """
    spec, protocol = specs.spec_of(model), protocol_of(protocol)
    t = as_tensors(data, device, dtype)
    if labels is not None:
        t["y"] = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=t["x"].device)
    if protocol["loss"] == "mse":
        mse = torch.nn.MSELoss()
        criterion = lambda out, y: mse(out, F.one_hot(y, out.shape[-1]).to(out.dtype))  # noqa: E731
    else:
        criterion = F.cross_entropy
    generator = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(seed)           # the initialisation, then any randomness of the forward
    net = models.build(spec).to(device=t["x"].device, dtype=dtype)
    if protocol["optimizer"] == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=protocol["lr"], betas=protocol["betas"],
                               eps=protocol["eps"], weight_decay=protocol["weight_decay"])
    else:
        opt = torch.optim.SGD(net.parameters(), lr=protocol["lr"], momentum=protocol["momentum"],
                              weight_decay=protocol["weight_decay"])
    rows, bs, n = [], protocol["batch_size"], len(t["x"])
    order = torch.arange(n, device=t["x"].device)
    for step in range(protocol["steps"] + 1):
        start = (step * bs) % n
        if protocol["order"] == "reshuffle" and start < bs:   # a new epoch begins
            order = torch.randperm(n, generator=generator).to(t["x"].device)   # once per epoch
        idx = order[start:start + bs]
        net.train()
        loss = criterion(net(t["x"][idx]), t["y"][idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % protocol["eval_every"] == 0 or step == protocol["steps"]:
            net.eval()
            with torch.no_grad():
                row = {"seed": seed, "step": step, "batch_loss": loss.item()}
                for split, x, y in (("train", t["x"], t["y"]), ("test", t["x_test"], t["y_test"])):
                    out = torch.cat([net(x[i:i + EVAL_CHUNK])
                                     for i in range(0, len(x), EVAL_CHUNK)])
                    row[f"{split}_loss"] = criterion(out, y).item()
                    row[f"{split}_acc"] = 100.0 * (out.argmax(-1) == y).double().mean().item()
                rows.append(row)
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    return (history, net) if return_module else history
