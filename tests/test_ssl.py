"""Self-supervised contrastive learning: augmentations, InfoNCE, ensemble."""
import numpy as np
import pandas as pd
import pytest
import torch

from mnist1d.experiments import ssl
from mnist1d.data import get_dataset_args, make_dataset


def test_detrend_removes_offset_and_slope_only():
    t = ssl.positions(40, dtype=torch.float64)
    bump = torch.exp(-(t / 4) ** 2)
    bump = ssl.detrend(bump)                       # a signal without offset and trend ...
    x = bump + 3.0 - 0.2 * t                       # ... plus some
    torch.testing.assert_close(ssl.detrend(x), bump)
    assert abs(ssl.detrend(x).mean()) < 1e-12


def test_augment_is_a_circular_shift_plus_a_new_trend():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 40, generator=gen, dtype=torch.float64)
    shifts, slopes, offsets = torch.tensor([0, 3, -10, 10, 7]), torch.zeros(5), torch.zeros(5)
    out = ssl.augment(x, shifts, slopes, offsets)
    for i in range(5):
        torch.testing.assert_close(out[i], torch.roll(ssl.detrend(x[i]), int(shifts[i])))
    t = ssl.positions(40, dtype=torch.float64)
    out2 = ssl.augment(x, shifts, torch.full((5,), 0.04), torch.full((5,), -0.3))
    torch.testing.assert_close(out2 - out, (0.04 * t - 0.3).expand(5, 40))


def test_draws_respect_the_settings():
    # shift `right` (the notebook): randint(0, max_shift), 0 .. 9, every value drawn
    s = ssl.settings_of({})
    assert s["shift"] == "right" and s["loss"] == "one_directional"
    shifts, slopes, offsets = ssl.draw(20000, torch.Generator().manual_seed(1), s)
    assert sorted(shifts.unique().tolist()) == list(range(10))
    both = ssl.draw(20000, torch.Generator().manual_seed(1), ssl.settings_of({"shift": "both"}))[0]
    assert sorted(both.unique().tolist()) == list(range(-10, 11))
    none = ssl.draw(100, torch.Generator().manual_seed(1), ssl.settings_of({"max_shift": 0}))[0]
    assert (none == 0).all()
    assert slopes.std().item() == pytest.approx(0.04, rel=0.05)
    assert offsets.std().item() == pytest.approx(0.3, rel=0.05)


def test_an_epochs_draws_at_once_are_the_draws_step_by_step():
    s = ssl.settings_of({"batch_size": 8})
    step_by_step, at_once = ssl.Draws([3, 5], 40, s), ssl.Draws([3, 5], 40, s)
    epoch = at_once.epoch_augmentations()
    assert epoch[0].shape == (5, 2, 2, 8)
    for b in range(step_by_step.steps_per_epoch):
        for one, many in zip(step_by_step.augmentations(), epoch):
            assert torch.equal(one, many[b])
    # the generators are left where the step-by-step draws leave them
    assert torch.equal(step_by_step.epoch()[1], at_once.epoch()[1])


def test_info_nce_against_a_direct_formula():
    gen = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(6, 4, generator=gen, dtype=torch.float64), torch.randn(6, 4, generator=gen,
                                                                                 dtype=torch.float64)
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    total = 0.0
    for i in range(12):
        j = (i + 6) % 12
        sims = torch.stack([z[i] @ z[k] / 0.5 for k in range(12) if k != i])
        total += -(z[i] @ z[j] / 0.5 - torch.logsumexp(sims, 0))
    assert ssl.info_nce(z1, z2, 0.5).item() == pytest.approx(total.item() / 12, rel=1e-12)
    # perfectly aligned views of well separated points: lower loss than random ones
    e = torch.eye(6, 4, dtype=torch.float64)
    assert ssl.info_nce(e, e, 0.5) < ssl.info_nce(z1, z2, 0.5)


def test_one_directional_info_nce_is_the_notebooks_formula():
    """The notebook's loss written as it is: exp(cos / tau), -log diag + log row sum, mean."""
    gen = torch.Generator().manual_seed(3)
    z1, z2 = (torch.randn(2, 7, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    o1 = torch.nn.functional.normalize(z1, dim=-1)
    o2 = torch.nn.functional.normalize(z2, dim=-1)
    sims = torch.exp(o1 @ o2.transpose(-1, -2) / 0.5)
    ref = torch.mean(-torch.log(torch.diagonal(sims, dim1=-2, dim2=-1))
                     + torch.log(sims.sum(-1)), -1)
    got = ssl.info_nce_one_directional(z1, z2, 0.5)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    # one-directional: swapping the views changes it; it differs from the symmetric loss
    assert not torch.allclose(ssl.info_nce_one_directional(z2, z1, 0.5), got)
    assert not torch.allclose(ssl.info_nce(z1, z2, 0.5), got)
    assert ssl.contrastive_loss(ssl.settings_of({})) is ssl.info_nce_one_directional
    assert ssl.contrastive_loss(ssl.settings_of({"loss": "symmetric"})) is ssl.info_nce


@pytest.mark.parametrize("key, value", [("shift", "left"), ("loss", "nt_xent")])
def test_bad_choices_name_the_key(key, value):
    with pytest.raises(ValueError, match=f"ssl.{key}.*{value}"):
        ssl.settings_of({key: value})


def test_parameter_count_and_layers():
    net = ssl.build(ssl.settings_of({}))
    convs = 5 * 25 + 25 + 2 * (25 * 25 * 3 + 25)
    assert sum(p.numel() for p in net.parameters()) == convs + 125 * 125 + 125 + 125 * 16 + 16
    outs = net(torch.zeros(3, 40))
    assert {k: v.shape[1] for k, v in outs.items()} == {
        "input": 40, "conv1": 475, "conv2": 250, "conv3": 125, "hidden": 125, "output": 16}


def test_ensemble_forward_equals_the_plain_module():
    s = ssl.settings_of({})
    params = ssl.init_params(s, [5, 1], dtype=torch.float64)
    x = torch.randn(7, 40, dtype=torch.float64)
    outs = ssl.forward(params, x, layers=True)
    for k, seed in enumerate([5, 1]):
        torch.manual_seed(seed)
        ref = ssl.build(s).double()(x)
        for name in ssl.LAYERS:
            torch.testing.assert_close(outs[name][k], ref[name], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("choices", [{}, {"shift": "both", "loss": "symmetric"}])
def test_every_member_is_the_plain_single_run(choices):
    """Member k of the ensemble == the plain nn.Module + torch.optim.Adam loop of seed k
    (same batch order and augmentations from the seed's generator), float64; with the
    notebook's choices (default) and with the other ones."""
    args = get_dataset_args()
    args.num_samples = 250
    x = make_dataset(args)["x"][:200]
    settings = {"epochs": 3, "batch_size": 40} | choices
    _, final, history = ssl.train_ssl(x, [3, 0], settings, dtype=torch.float64)
    assert list(history.columns) == ["seed", "epoch", "loss"] and len(history) == 6
    for k, seed in enumerate([3, 0]):
        net, losses = ssl.train_plain(x, seed, settings)
        np.testing.assert_allclose(history[history.seed == seed].loss,
                                   np.array(losses).reshape(3, 5).mean(1), rtol=1e-10)
        for name, p in net.named_parameters():
            torch.testing.assert_close(final[name][k], p.detach(), rtol=1e-9, atol=1e-10)


def test_probe_table_and_targets():
    rng = np.random.default_rng(0)
    y, y_test = rng.integers(0, 10, 300), rng.integers(0, 10, 100)
    data = {"x": rng.normal(size=(300, 40)) + 4 * np.eye(40)[y], "y": y,
            "x_test": rng.normal(size=(100, 40)) + 4 * np.eye(40)[y_test], "y_test": y_test}
    params = ssl.init_params(ssl.settings_of({}), [0, 1])
    table = ssl.probe(data, {"before": params, "after": params}, [0, 1], max_iter=50)
    assert len(table) == 1 + 2 * 2 * 5
    raw = table[table.layer == "input"].iloc[0]
    assert raw.dim == 40 and raw.knn_acc > 80 and raw.linear_acc > 80   # separable classes
    assert set(table.layer) == set(ssl.LAYERS)
    lines = ssl.check_targets(table)
    assert len(lines) == 2 and all(("met" in l) for l in lines)
    fake = pd.DataFrame([{"layer": "conv3", "stage": "after", "knn_acc": 0, "linear_acc": 80},
                         {"layer": "output", "stage": "after", "knn_acc": 69, "linear_acc": 0}])
    met = ssl.check_targets(fake)
    assert "-> met" in met[0] and "NOT met" in met[1]
