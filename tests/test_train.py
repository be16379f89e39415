"""The training engine: the paper's protocol, seed ensembles equal to single-seed runs."""
import numpy as np
import pandas as pd
import pytest
import torch

from mnist1d import specs, train

METRICS = ["train_loss", "test_loss", "train_acc", "test_acc", "batch_loss"]

pytestmark = pytest.mark.usefixtures("one_thread")


def member(history, seed):
    return history[history.seed == seed].reset_index(drop=True)


@pytest.mark.parametrize("name", ["logistic", "mlp", "cnn", "gru"])
def test_ensemble_members_equal_the_plain_pytorch_loop_float64(frozen, name):
    """Each member of a 3-seed ensemble = the straightforward nn.Module + torch.optim.Adam loop."""
    protocol = {"steps": 60, "eval_every": 20}
    history, _ = train.train(frozen, name, protocol, seeds=[0, 1, 2], dtype=torch.float64)
    assert list(history.columns) == specs.HISTORY_COLUMNS
    assert sorted(set(history.step)) == [0, 20, 40, 60]
    for seed in (0, 2):
        plain = train.train_plain(frozen, name, protocol, seed=seed, dtype=torch.float64)
        np.testing.assert_allclose(member(history, seed)[METRICS], plain[METRICS], rtol=1e-9, atol=1e-9)
    # the members really differ (a test that cannot fail would not show anything)
    assert not np.allclose(member(history, 0)["train_loss"], member(history, 1)["train_loss"])


@pytest.mark.parametrize("name", ["mlp", "cnn", "gru"])
def test_ensemble_members_equal_single_runs_float32_short_horizon(frozen, name):
    protocol = {"steps": 10, "eval_every": 5}
    history, _ = train.train(frozen, name, protocol, seeds=[5, 6, 7])
    alone, _ = train.train(frozen, name, protocol, seeds=[6])
    np.testing.assert_allclose(member(history, 6)[METRICS], alone[METRICS], rtol=2e-5, atol=2e-5)


def test_same_seed_same_history_on_the_cpu(frozen):
    protocol = {"steps": 30, "eval_every": 10}
    a, _ = train.train(frozen, "cnn", protocol, seeds=[3], device="cpu")
    b, _ = train.train(frozen, "cnn", protocol, seeds=[3], device="cpu")
    pd.testing.assert_frame_equal(a, b)


def test_sgd_momentum_equals_torch_optim_float64(frozen):
    protocol = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-3,
                "steps": 40, "eval_every": 20}
    history, _ = train.train(frozen, "mlp", protocol, seeds=[1, 2], dtype=torch.float64)
    plain = train.train_plain(frozen, "mlp", protocol, seed=2, dtype=torch.float64)
    np.testing.assert_allclose(member(history, 2)[METRICS], plain[METRICS], rtol=1e-9, atol=1e-9)


def test_reshuffled_epochs_member_equals_single_run(frozen):
    """Double-descent protocol: each seed reshuffles its own epochs; members = single runs."""
    small = {k: frozen[k][:300] if k in ("x", "y") else frozen[k] for k in frozen}
    protocol = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "order": "reshuffle",
                "steps": 12, "eval_every": 4}
    history, _ = train.train(small, "mlp", protocol, seeds=[0, 1], dtype=torch.float64)
    alone, _ = train.train(small, "mlp", protocol, seeds=[1], dtype=torch.float64)
    np.testing.assert_allclose(member(history, 1)[METRICS], alone[METRICS], rtol=1e-10, atol=1e-10)
    in_order, _ = train.train(small, "mlp", dict(protocol, order="in_order"), seeds=[1],
                              dtype=torch.float64)
    assert not np.allclose(in_order["train_loss"], alone["train_loss"])


def test_masks_zero_the_masked_weights_in_the_forward(frozen):
    spec = specs.spec_of("logistic")
    masks = {"weight": torch.ones(2, 10, 40), "bias": torch.ones(2, 10)}
    masks["weight"][1, :, 20:] = 0              # member 1 sees only the first 20 positions
    protocol = {"steps": 20, "eval_every": 10}
    history, params = train.train(frozen, spec, protocol, seeds=[0, 0], masks=masks,
                                  dtype=torch.float64)
    plain, _ = train.train(frozen, spec, protocol, seeds=[0], dtype=torch.float64)
    np.testing.assert_allclose(history[history.index < 3][METRICS], plain[METRICS], rtol=1e-10)
    cut = {k: v.copy() for k, v in frozen.items() if k != "templates"}
    cut["x"][:, 20:] = 123.0                  # masked inputs cannot matter
    cut["x_test"][:, 20:] = -7.0
    h2, _ = train.train(cut, spec, protocol, seeds=[0, 0], masks=masks, dtype=torch.float64)
    np.testing.assert_allclose(h2[METRICS].values[3:], history[METRICS].values[3:], rtol=1e-10)


def test_compiled_step_computes_what_the_eager_step_does(frozen):
    protocol = {"steps": 20, "eval_every": 10}
    eager, _ = train.train(frozen, "logistic", protocol, seeds=[0, 1], dtype=torch.float64)
    compiled, _ = train.train(frozen, "logistic", protocol, seeds=[0, 1], dtype=torch.float64,
                              compile=True)
    np.testing.assert_allclose(compiled[METRICS], eager[METRICS], rtol=1e-10, atol=1e-10)


def test_cuda_is_refused_without_a_gpu_and_bad_protocols_name_the_key(frozen):
    if not torch.cuda.is_available():
        from mnist1d.pipeline.device import select_device
        with pytest.raises(RuntimeError, match="device"):
            select_device("cuda")
    with pytest.raises(ValueError, match="optimizer"):
        specs.protocol_of({"optimizer": "lbfgs"})
    with pytest.raises(ValueError, match="lr"):
        specs.protocol_of({"lr": 0})
    with pytest.raises(ValueError, match="learning_rate"):
        specs.protocol_of({"learning_rate": 0.1})
    with pytest.raises(KeyError, match="x_test"):
        train.train({"x": frozen["x"], "y": frozen["y"]}, "logistic", {"steps": 1})


def test_inputs_reach_the_engine_row_major(frozen):
    """A column-major x (what a column gather such as the shuffled variant leaves) becomes a
    row-major tensor: on CUDA, torch.compile's CNN step trained nothing on the column-major
    shuffled frozen (benchmarks/gpu_check.py, torch 2.11, H100), eager and the CPU were right."""
    fortran = {key: np.asfortranarray(value) for key, value in frozen.items()}
    assert not fortran["x"].flags["C_CONTIGUOUS"]
    tensors = train.as_tensors(fortran, "cpu", torch.float32)
    assert all(t.is_contiguous() for t in tensors.values())
    torch.testing.assert_close(tensors["x"], train.as_tensors(frozen, "cpu", torch.float32)["x"],
                               rtol=0, atol=0)


def test_the_shuffled_dataset_is_row_major():
    from mnist1d.data import get_dataset_args, make_dataset
    args = get_dataset_args()
    args.shuffle_seq, args.num_samples = True, 200
    d = make_dataset(args)
    assert d["x"].flags["C_CONTIGUOUS"] and d["x_test"].flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("weight_decay", [0.0, 1e-3])
def test_multi_tensor_adam_gives_the_same_bits_as_one_parameter_at_a_time(weight_decay):
    """The eager step's Adam over all parameters at once (torch._foreach_*) is the per-parameter
    update of the compiled step, bit for bit in float32, over steps where the bias corrections
    and the moments change."""
    from mnist1d import models

    spec = specs.spec_of("cnn")
    protocol = specs.protocol_of({"weight_decay": weight_decay})
    gen = torch.Generator().manual_seed(0)
    runs = []
    for multi_tensor in (False, True):
        params = models.init_params(spec, [0, 1, 2])
        state = train.init_state(params, protocol)
        for _ in range(25):
            grads = {n: torch.randn(p.shape, generator=gen) for n, p in params.items()}
            train.update(params, grads, state, protocol, multi_tensor=multi_tensor)
        gen.manual_seed(0)
        runs.append((params, state))
    (p0, s0), (p1, s1) = runs
    assert all(torch.equal(p0[n], p1[n]) for n in p0)
    assert all(torch.equal(s0[k], s1[k]) for k in s0)
    first = next(iter(p0))
    assert not torch.equal(p0[first], models.init_params(spec, [0, 1, 2])[first])   # it trained
