"""The pooling CNN variants and the pooling experiment."""
import numpy as np
import pandas as pd
import pytest
import torch

from mnist1d import models, specs, train
from mnist1d.experiments import pooling
from mnist1d.data import get_dataset_args, make_dataset

VARIANTS = list(specs.POOLINGS)


@pytest.mark.parametrize("variant,count,linear_in", [
    ("none", 9_310, 800), ("stride2", 3_310, 200), ("max", 3_310, 200), ("avg", 3_310, 200),
    ("l2", 3_310, 200)])
def test_parameter_counts(variant, count, linear_in):
    # conv 1->20 (60 + 20), conv 20->20 (1 200 + 20), linear linear_in -> 10
    spec = pooling.spec_of(variant)
    assert models.count_parameters(spec) == 80 + 1_220 + linear_in * 10 + 10 == count
    assert models.build(spec).linear.in_features == linear_in
    assert sum(p[0].numel() for p in models.init_params(spec, [0]).values()) == count


@pytest.mark.parametrize("variant", VARIANTS)
def test_ensemble_forward_and_gradient_equal_the_plain_module(variant):
    spec, seeds = pooling.spec_of(variant), [2, 7]
    params = models.init_params(spec, seeds, dtype=torch.float64)
    params = {k: p.requires_grad_() for k, p in params.items()}
    x = torch.randn(2, 9, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = models.forward(spec, params, x)
    out.square().sum().backward()
    for k, seed in enumerate(seeds):
        torch.manual_seed(seed)
        net = models.build(spec).double()
        ref = net(x[k])
        torch.testing.assert_close(out[k], ref, rtol=1e-12, atol=1e-12)
        ref.square().sum().backward()
        for name, p in net.named_parameters():
            torch.testing.assert_close(params[name].grad[k], p.grad, rtol=1e-10, atol=1e-12)


def test_bad_pooling_names_the_key():
    with pytest.raises(ValueError, match="pooling"):
        specs.spec_of({"name": "pool_cnn", "pooling": "median"})


def _small(num_samples, seed):
    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = num_samples, 0.5, seed
    return make_dataset(args)


@pytest.mark.parametrize("variant", ["none", "max", "l2"])
def test_every_member_is_the_plain_single_run(variant):
    """Member (dataset d, seed s) of the stacked ensemble == the plain loop of seed s on d."""
    datasets = {"a": _small(200, 1), "b": _small(400, 2)}
    protocol = {"steps": 25, "eval_every": 5, "batch_size": 20}
    hist = pooling.train_sizes(datasets, variant, [3, 0], protocol, dtype=torch.float64)
    assert len(hist) == 2 * 2 * 6
    for name, data in datasets.items():
        for seed in (3, 0):
            ref = train.train_plain(data, pooling.spec_of(variant), protocol, seed, torch.float64)
            got = hist[(hist.dataset == name) & (hist.seed == seed)].reset_index(drop=True)
            assert (got.train_size == len(data["x"])).all()
            cols = ["step", "train_loss", "test_loss", "train_acc", "test_acc", "batch_loss"]
            pd.testing.assert_frame_equal(got[cols], ref[cols], check_exact=False, rtol=1e-9,
                                          atol=1e-9)


def test_training_set_evaluated_only_where_asked():
    datasets = {"a": _small(200, 1)}
    protocol = {"steps": 20, "eval_every": 5, "batch_size": 20}
    full = pooling.train_sizes(datasets, "avg", [0], protocol, dtype=torch.float64)
    thin = pooling.train_sizes(datasets, "avg", [0], protocol, dtype=torch.float64,
                               train_eval_every=10)
    assert thin.train_acc.isna().tolist() == [False, True, False, True, False]
    pd.testing.assert_frame_equal(thin.drop(columns=["train_loss", "train_acc"]),
                                  full.drop(columns=["train_loss", "train_acc"]))
    kept = thin.train_acc.notna()
    pd.testing.assert_series_equal(thin.train_acc[kept], full.train_acc[kept])


def test_ragged_batches_are_refused():
    with pytest.raises(ValueError, match="'a'.*multiple of batch_size"):
        pooling.train_sizes({"a": _small(250, 1)}, "max", [0], {"steps": 1, "batch_size": 100})


def _fake_history():
    rows = []
    for v, gain in zip(pooling.VARIANTS, [0, 8, 9, 7, 10]):
        for size, dataset in [(1000, "pool2k"), (50000, "pool51k")]:
            for seed in (0, 1):
                for step in range(0, 101, 10):
                    acc = 60 + (gain if size == 1000 else 30 + gain / 10) + seed
                    rows.append((v, dataset, size, seed, step, 1.0, 1.0, acc, acc * step / 100, 1.0))
    return pd.DataFrame(rows, columns=pooling.COLUMNS)


def test_summary_and_targets():
    summary = pooling.summarise(_fake_history())
    assert len(summary) == 10
    row = summary[(summary.variant == "max") & (summary.train_size == 1000)].iloc[0]
    assert row.test_acc_mean == pytest.approx(69.5) and row.n_seeds == 2
    lines = pooling.check_targets(summary)
    assert "NOT met" not in " ".join(lines)
    summary.loc[(summary.variant == "avg") & (summary.train_size == 1000), "test_acc_mean"] = 63
    assert "NOT met" in " ".join(pooling.check_targets(summary))


def test_smoothing_keeps_length_and_constants():
    np.testing.assert_allclose(pooling.smooth(np.full(7, 3.0), 5), 3.0)
    assert len(pooling.smooth(np.arange(10.0), 4)) == 10
