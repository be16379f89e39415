"""Launch-cutting (train.GraphedStep): the CPU twin of the CUDA-graph step equals the plain step
bit for bit, through the engine, the lottery search and the SSL training.

The twin is the same object on a device that is not CUDA: the same static input buffers,
warm-up count, capture point, static output and fallbacks, with "capture" fixing the step to
the buffers and "replay" running it there. The CUDA capture itself needs a GPU
(benchmarks/gpu_check.py); which branch a device takes is checked by `use_graph`.
"""
import logging

import numpy as np
import pandas as pd
import pytest
import torch

from mnist1d import models, specs, train
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.experiments import lottery, pooling, ssl

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_graph_is_used_on_cuda_only_and_only_when_switched_on():
    assert train.use_graph("cuda")
    assert train.use_graph(torch.device("cuda", 1))
    assert train.use_graph("cuda:0", True)
    assert not train.use_graph("cuda", False)
    assert not train.use_graph("cpu")
    assert not train.use_graph(torch.device("cpu"), True)
    assert not train.use_graph("meta")


def test_a_cpu_run_keeps_its_plain_step():
    step = train.make_step(specs.spec_of("mlp"), specs.protocol_of({}))
    assert train.graphed(step, "cpu") is step
    assert train.graphed(step, "cpu", cuda_graph=False) is step
    assert not train.GraphedStep(step, "cpu").capture          # the twin, whatever is asked


def prepare(data, model, seeds, masks=None, compile=False, protocol=None):
    spec, protocol = specs.spec_of(model), specs.protocol_of(protocol or {"lr": 1e-2})
    params = models.init_params(spec, seeds, torch.float64, "cpu")
    state = train.init_state(params, protocol)
    step = train.make_step(spec, protocol, masks, compile)
    tensors = train.as_tensors(data, "cpu", torch.float64)
    return step, params, state, train.Batches(tensors["x"], tensors["y"], protocol, seeds)


def run(step, params, state, batches, steps, on_step=None):
    losses = []
    for i in range(steps):
        losses.append(step(params, state, *batches(i)).clone())
        if on_step is not None:
            on_step(i)
    return torch.stack(losses)


def assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_twin_equals_the_plain_step_bit_for_bit(frozen, model):
    """Warm-up steps, the capture step and the replays are each one real step of the run:
    none repeated, none skipped (params, optimiser state and losses identical)."""
    step, p0, s0, batches = prepare(frozen, model, [0, 1])
    p1, s1 = {k: v.clone() for k, v in p0.items()}, {k: v.clone() for k, v in s0.items()}
    plain = run(step, p0, s0, batches, 9)
    twin = train.GraphedStep(step, "cpu", warmup=3)
    graphed = run(twin, p1, s1, batches, 9)
    assert torch.equal(plain, graphed)
    assert_same(p0, p1)
    assert_same(s0, s1)
    assert (twin.warmed, twin.replays, twin.odd_batches) == (3, 6, 0)
    init = models.init_params(specs.spec_of(model), [0, 1], torch.float64)
    assert all(not torch.equal(p1[name], init[name]) for name in init)     # it did train


def test_twin_returns_one_static_output_that_the_next_step_overwrites(frozen):
    step, params, state, batches = prepare(frozen, "mlp", [0])
    twin = train.GraphedStep(step, "cpu", warmup=1)
    twin(params, state, *batches(0))                       # warm-up: a fresh tensor
    first = twin(params, state, *batches(1))                # captured, replayed
    kept = first.clone()
    second = twin(params, state, *batches(2))
    assert second is first and not torch.equal(first, kept)


def test_twin_with_masks_changed_in_place_between_rounds(frozen):
    """The lottery search's use: masks and a reset of params and state, all in place."""
    spec = specs.spec_of({"name": "mlp", "hidden": 16})
    init = models.init_params(spec, [3, 4], torch.float64)
    masks = {name: torch.ones_like(p) for name, p in init.items()}
    gen = torch.Generator().manual_seed(0)
    new_masks = [{n: (torch.rand(m.shape, generator=gen, dtype=torch.float64) > f).double()
                  for n, m in masks.items()} for f in (0.3, 0.6)]

    def search(wrap):
        for m in masks.values():
            m.fill_(1.0)
        step, params, state, batches = prepare(frozen, spec, [3, 4], masks)
        params = {n: p.clone() for n, p in init.items()}
        state = train.init_state(params, specs.protocol_of({}))
        step = wrap(step)
        out = []
        for r in range(3):
            with torch.no_grad():
                for n in params:
                    params[n].copy_(init[n])
                for v in state.values():
                    v.zero_()
            out.append(run(step, params, state, batches, 6))
            out.append(torch.cat([p.flatten() for p in params.values()]))
            if r < 2:
                for n, m in masks.items():
                    m.copy_(new_masks[r][n])
        return out

    plain = search(lambda step: step)
    graphed = search(lambda step: train.GraphedStep(step, "cpu", warmup=2))
    for a, b in zip(plain, graphed):
        assert torch.equal(a, b)
    assert not torch.equal(plain[1], plain[3])               # the masks did change the run


def test_twin_of_the_compiled_step(frozen):
    step, p0, s0, batches = prepare(frozen, "logistic", [0, 1], compile=True)
    p1, s1 = {k: v.clone() for k, v in p0.items()}, {k: v.clone() for k, v in s0.items()}
    plain = run(step, p0, s0, batches, 6)
    graphed = run(train.GraphedStep(step, "cpu", warmup=2), p1, s1, batches, 6)
    assert torch.equal(plain, graphed)
    assert_same(p0, p1)


def test_a_batch_of_other_shapes_runs_the_plain_step(frozen):
    """A last short batch (here 330 examples in batches of 100) is not what was captured."""
    small = {k: frozen[k][:330] if k in ("x", "y") else frozen[k] for k in frozen}
    step, p0, s0, batches = prepare(small, "mlp", [0], protocol={"batch_size": 100})
    p1, s1 = {k: v.clone() for k, v in p0.items()}, {k: v.clone() for k, v in s0.items()}
    plain = [step(p0, s0, *batches(i)).clone() for i in range(10)]
    twin = train.GraphedStep(step, "cpu", warmup=2)
    graphed = [twin(p1, s1, *batches(i)).clone() for i in range(10)]
    for a, b in zip(plain, graphed):
        assert torch.equal(a, b)
    assert_same(p0, p1)
    assert twin.odd_batches == 3 and twin.warmed == 2 and twin.replays == 5   # starts 300, 270, 240


def test_a_failed_capture_falls_back_to_the_plain_step_once_and_for_good(frozen, caplog):
    step, p0, s0, batches = prepare(frozen, "mlp", [0, 1])
    p1, s1 = {k: v.clone() for k, v in p0.items()}, {k: v.clone() for k, v in s0.items()}
    plain = run(step, p0, s0, batches, 7)
    twin = train.GraphedStep(step, "cpu", warmup=2, logger=logging.getLogger("graph-test"))
    tries = []

    def fail(params, state):
        tries.append(1)
        raise RuntimeError("operation not permitted when stream is capturing")

    twin._record = fail
    graphed = run(twin, p1, s1, batches, 7)
    assert torch.equal(plain, graphed)
    assert_same(p0, p1)
    assert len(tries) == 1 and twin.plain and twin.replays == 0
    assert "running the plain step for the rest of this run" in caplog.text
    twin2 = train.GraphedStep(step, "cpu", warmup=0)       # no logger: a Python warning
    twin2._record = fail
    with pytest.warns(RuntimeWarning, match="capture of the training step failed"):
        twin2(p1, s1, *batches(0))


def test_other_params_tensors_than_the_captured_ones_raise(frozen):
    step, params, state, batches = prepare(frozen, "mlp", [0])
    twin = train.GraphedStep(step, "cpu", warmup=0)
    twin(params, state, *batches(0))
    with pytest.raises(ValueError, match="in place"):
        twin({k: v.clone() for k, v in params.items()}, state, *batches(1))


# --- through the callers: the twin in place of the plain step, the same results -------------

@pytest.fixture
def twin_everywhere(monkeypatch):
    """Every loop takes the graph path (on the CPU: the twin), as it would on CUDA."""
    monkeypatch.setattr(train, "use_graph", lambda device, cuda_graph=True: bool(cuda_graph))


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_train_through_the_twin_equals_train(frozen, model, monkeypatch):
    protocol = {"steps": 12, "eval_every": 4}
    plain, p_plain = train.train(frozen, model, protocol, seeds=[0, 1], dtype=torch.float64)
    monkeypatch.setattr(train, "use_graph", lambda device, cuda_graph=True: bool(cuda_graph))
    made, real = [], train.GraphedStep

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(train, "GraphedStep", spy)
    graphed, p_graphed = train.train(frozen, model, protocol, seeds=[0, 1], dtype=torch.float64)
    pd.testing.assert_frame_equal(plain, graphed, check_exact=True)
    assert_same(p_plain, p_graphed)
    assert len(made) == 1 and made[0].replays == 13 - train.GRAPH_WARMUP


def test_train_with_masks_through_the_twin(frozen, twin_everywhere):
    spec = specs.spec_of({"name": "mlp", "hidden": 16})
    gen = torch.Generator().manual_seed(1)
    init = models.init_params(spec, [0, 1], torch.float64)
    masks = {n: (torch.rand(p.shape, generator=gen, dtype=torch.float64) > 0.5).double()
             for n, p in init.items()}
    protocol = {"steps": 10, "eval_every": 5}
    a, pa = train.train(frozen, spec, protocol, seeds=[0, 1], masks=masks, dtype=torch.float64,
                        cuda_graph=False)
    b, pb = train.train(frozen, spec, protocol, seeds=[0, 1], masks=masks, dtype=torch.float64)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert_same(pa, pb)


def test_lottery_search_through_the_twin(frozen, twin_everywhere):
    kw = {"hidden": 16, "protocol": {"lr": 0.02, "steps": 8, "eval_every": 4}, "trials": (42,),
          "rounds": 3, "dtype": torch.float64}
    h_plain, m_plain, *_ = lottery.search(frozen, cuda_graph=False, **kw)
    h_graph, m_graph, *_ = lottery.search(frozen, **kw)
    pd.testing.assert_frame_equal(h_plain, h_graph, check_exact=True)
    for a, b in zip(m_plain, m_graph):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_ssl_training_through_the_twin(twin_everywhere, dtype):
    args = get_dataset_args()
    args.num_samples = 250
    x = make_dataset(args)["x"][:200]
    settings = {"epochs": 2, "batch_size": 40}
    _, f0, h0 = ssl.train_ssl(x, [3, 0], settings, dtype=dtype, cuda_graph=False)
    i1, f1, h1 = ssl.train_ssl(x, [3, 0], settings, dtype=dtype)
    pd.testing.assert_frame_equal(h0, h1, check_exact=True)
    assert_same(f0, f1)
    assert not torch.equal(f1["conv1.weight"], i1["conv1.weight"])


def test_pooling_through_the_twin(twin_everywhere):
    args = get_dataset_args()
    args.num_samples, args.train_split = 200, 0.5
    datasets = {"a": make_dataset(args)}
    protocol = {"steps": 12, "eval_every": 4, "batch_size": 20}
    plain = pooling.train_sizes(datasets, "max", [3, 0], protocol, dtype=torch.float64,
                                cuda_graph=False)
    graphed = pooling.train_sizes(datasets, "max", [3, 0], protocol, dtype=torch.float64)
    pd.testing.assert_frame_equal(plain, graphed, check_exact=True)
