"""Benchmark glue (summary, table, figure), the PyTorch Dataset, and the smoke run's outputs."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from mnist1d.experiments import benchmark
from mnist1d.dataset import MNIST1D


def fake_history():
    rows = []
    for model in ("cnn", "gru"):
        for variant in ("normal", "shuffled"):
            for seed, final in zip((0, 1, 2), (90.0, 92.0, 94.0)):
                for step in (0, 10, 20):
                    acc = final if step == 20 else 10.0
                    rows.append(dict(model=model, variant=variant, seed=seed, step=step,
                                     train_loss=1.0, test_loss=1.0, train_acc=acc + 1,
                                     test_acc=acc - (variant == "shuffled") * 30, batch_loss=1.0))
    return pd.DataFrame(rows)


def test_summary_takes_the_final_step_of_every_seed():
    summary = benchmark.summarise(fake_history())
    assert list(summary[["model", "variant"]].itertuples(index=False, name=None)) == [
        ("cnn", "normal"), ("gru", "normal"), ("cnn", "shuffled"), ("gru", "shuffled")]
    row = summary.iloc[0]
    assert row.test_acc_mean == pytest.approx(92.0) and row.test_acc_std == pytest.approx(2.0)
    assert row.n_seeds == 3 and row.steps == 20 and row.published_test_acc == 94.0
    assert summary.iloc[2].test_acc_mean == pytest.approx(62.0)
    table = benchmark.markdown(summary)
    assert "| CNN | 5,210 | normal | 92.0 ± 2.0 | 3 | 20 | 94 | -2.0 |" in table


def test_benchmark_figure_draws_every_curve():
    fig = benchmark.plot_benchmark(fake_history())
    ax = fig.axes[1]
    styles = sorted(line.get_linestyle() for line in ax.get_lines())
    assert styles.count("--") == 2 and styles.count("-") == 2 and styles.count(":") == 1
    assert ax.get_title() == "Test accuracy"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["CNN", "GRU"] and "positions shuffled" in labels


def test_dataset_works_with_a_dataloader(frozen):
    train, test = MNIST1D(frozen), MNIST1D(frozen, train=False, channel=True)
    assert len(train) == 4000 and len(test) == 1000
    x, y = train[3]
    assert x.shape == (40,) and x.dtype == torch.float32 and y.dtype == torch.long
    np.testing.assert_allclose(x.numpy(), frozen["x"][3].astype(np.float32))
    xb, yb = next(iter(DataLoader(test, batch_size=64, shuffle=False)))
    assert xb.shape == (64, 1, 40) and yb.tolist() == frozen["y_test"][:64].tolist()
    flipped = MNIST1D(frozen, transform=lambda s: s.flip(-1))
    assert torch.equal(flipped[0][0], train[0][0].flip(-1))
