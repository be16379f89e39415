"""Deep double descent: padded multi-size ensembles equal plain single runs, label noise, the
planner, the thresholds, the pipeline's outputs."""
import numpy as np
import pandas as pd
import pytest
import torch

from mnist1d.experiments import double_descent as dd
from mnist1d import models, specs, store, train

SECTION = {"lr": 0.01, "momentum": 0.9, "batch_size": 100, "epochs": 2, "eval_every_epochs": 1}


@pytest.fixture(scope="module")
def small(frozen):
    """300 training examples (3 batches per epoch), 400 test examples, and noisy labels."""
    small = {"x": frozen["x"][:300], "y": frozen["y"][:300], "x_test": frozen["x_test"][:400],
             "y_test": frozen["y_test"][:400]}
    return {0.0: small, 0.15: dict(small, y=dd.noisy_labels(small["y"], 0.15, seed=3))}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("arch,sizes", [("mlp", [9, 3]), ("cnn", [5, 2])])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_padded_members_equal_plain_single_runs_float64(small, arch, sizes, loss):
    """Every (size, noise, seed) member of one padded ensemble follows the plain nn.Module +
    torch.optim.SGD loop of its own size, seed, labels and loss (reshuffled batches)."""
    job = {"name": "t", "arch": arch, "loss": loss, "sizes": sizes, "noises": [0.0, 0.15],
           "seeds": [1, 2]}
    history = dd.train_group(job, small, SECTION, dtype=torch.float64)
    protocol = dd.engine_protocol(SECTION, loss, 300)
    assert protocol["steps"] + 1 == 2 * 3           # exactly two epochs of updates
    assert len(history) == 8 * 3 and set(history.step) == {0, 3, 5}
    for size, noise, seed in [(sizes[0], 0.15, 2), (sizes[1], 0.0, 1), (sizes[1], 0.15, 1)]:
        plain = train.train_plain(small[noise], dd.model_spec(arch, size), protocol, seed=seed,
                                  dtype=torch.float64, labels=small[noise]["y"])
        m = history[(history["size"] == size) & (history.noise == noise)
                    & (history.seed == seed)].reset_index(drop=True)
        assert (m.parameters == models.count_parameters(dd.model_spec(arch, size))).all()
        for ours, theirs in (("train_loss", "train_loss"), ("test_loss", "test_loss"),
                             ("batch_loss", "batch_loss")):
            np.testing.assert_allclose(m[ours], plain[theirs], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(m.train_error, 100 - plain.train_acc, atol=1e-9)
        np.testing.assert_allclose(m.test_error, 100 - plain.test_acc, atol=1e-9)
    # the members really differ: by size, by labels, by seed
    final = history[history.step == 5].set_index(["size", "noise", "seed"])["train_loss"]
    assert final[(sizes[0], 0.0, 1)] != final[(sizes[1], 0.0, 1)]
    assert final[(sizes[0], 0.0, 1)] != final[(sizes[0], 0.15, 1)]
    assert final[(sizes[0], 0.0, 1)] != final[(sizes[0], 0.0, 2)]


def test_padding_stays_zero_and_unpads_to_a_working_model(small):
    """float32, with the engine directly: the padded entries are still exactly zero after
    training, and a member cut back to its size gives the ensemble's logits."""
    members = [(7, 0), (3, 1)]
    spec, params, masks = dd.padded_ensemble("mlp", members)
    protocol = dd.engine_protocol(SECTION, "mse", 300)
    _, trained = train.train(small[0.0], spec, protocol, seeds=[0, 1], params=params, masks=masks)
    for name, p in trained.items():
        assert (p[masks[name] == 0] == 0).all(), name
    x = torch.as_tensor(small[0.0]["x_test"][:50], dtype=torch.float32)
    logits = models.forward(spec, trained, x)
    net = models.build(dd.model_spec("mlp", 3))
    net.load_state_dict(dd.unpad_member("mlp", trained, 1, 3))
    torch.testing.assert_close(net(x), logits[1], rtol=1e-5, atol=1e-5)


def test_mse_loss_is_torch_mse_against_one_hot():
    logits = torch.randn(2, 5, 10, dtype=torch.float64)
    y = torch.randint(0, 10, (2, 5))
    ours = train.member_losses(logits, y, "mse")
    for k in range(2):
        ref = torch.nn.MSELoss()(logits[k], torch.nn.functional.one_hot(y[k], 10).double())
        torch.testing.assert_close(ours[k], ref)
    with pytest.raises(ValueError, match="'loss'"):
        specs.protocol_of({"loss": "hinge"})


def test_per_member_labels_are_checked(small):
    with pytest.raises(ValueError, match="labels"):
        train.train(small[0.0], "mlp", {"steps": 1}, seeds=[0, 1], labels=small[0.0]["y"][None])


def test_label_noise_is_seeded_and_has_the_asked_rate():
    y = np.tile(np.arange(10), 4000)
    a, b = dd.noisy_labels(y, 0.15, seed=0), dd.noisy_labels(y, 0.15, seed=0)
    np.testing.assert_array_equal(a, b)
    changed = (a != y).mean()
    assert abs(changed - 0.15 * 0.9) < 0.01               # a redraw keeps its class 1 time in 10
    assert not np.array_equal(a, dd.noisy_labels(y, 0.15, seed=1))
    np.testing.assert_array_equal(dd.noisy_labels(y, 0.0, seed=0), y)
    assert set(np.unique(a)) == set(range(10))
    with pytest.raises(ValueError):
        dd.noisy_labels(y, 1.5, seed=0)


def test_noisy_dataset_is_stored_with_its_noise(tmp_path, small):
    source = dict(small[0.0], t=np.arange(40.0),
                  templates={"x": np.zeros((10, 12)), "t": np.arange(12.0), "y": np.arange(10)})
    store.save_dataset(source, {"num_samples": 700}, tmp_path / "src.npz")
    made = dd.make_noisy_dataset(tmp_path / "src.npz", 0.15, 7, tmp_path / "noisy.npz")
    read = store.load_dataset(tmp_path / "noisy.npz")
    np.testing.assert_array_equal(read["y"], made["y"])
    np.testing.assert_array_equal(read["y"], dd.noisy_labels(small[0.0]["y"], 0.15, 7))
    np.testing.assert_array_equal(read["x"], small[0.0]["x"])
    np.testing.assert_array_equal(read["y_test"], small[0.0]["y_test"])
    assert store.read_args(tmp_path / "noisy.npz") == {"num_samples": 700, "label_noise": 0.15,
                                                       "label_noise_seed": 7}


def test_grids_and_parameter_counts():
    # the notebook's grid: np.unique(np.geomspace(2, 300, 20, dtype=int)), truncated
    assert dd.mlp_widths() == [2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 47, 61, 80, 104, 135, 177,
                               230, 300]
    assert dd.cnn_channels()[:3] == [2, 4, 6] and dd.cnn_channels()[-3:] == [90, 95, 100]
    assert len(dd.cnn_channels()) == 29
    for h in (2, 50, 300):
        assert dd.n_parameters("mlp", h) == 40 * h + h + h * h + h + 10 * h + 10
    assert dd.n_parameters("cnn", 25) == specs.PAPER_PARAMETERS["cnn"]
    # multiply-adds of one forward pass, against a count of the plain module's products
    assert dd.macs_per_example("cnn", 25) == 19 * 25 * 5 + 10 * 25 * 25 * 3 + 5 * 25 * 25 * 3 + 125 * 10


def test_plan_groups_partitions_and_bounds_the_waste():
    sizes = dd.cnn_channels()
    groups = dd.plan_groups("cnn", sizes, waste=0.3, max_group_macs=1_500_000, min_group_macs=20_000)
    assert sorted(s for g in groups for s in g) == sizes
    for g in groups:
        assert g == sorted(g, reverse=True)
        padded = len(g) * dd.macs_per_example("cnn", g[0])
        assert padded <= max(1.3 * sum(dd.macs_per_example("cnn", s) for s in g), 20_000) or len(g) == 1
        assert padded <= 1_500_000 or len(g) == 1
    assert len(dd.plan_groups("mlp", [2, 3, 4], 0.0, None, 10**9)) == 1   # tiny: one group
    assert len(dd.plan_groups("mlp", [10, 100, 300], 0.0, None, 0)) == 3  # no waste allowed


def test_thresholds_and_summary_on_a_known_table():
    rows = []
    for noise, train_err, test_err in ((0.0, [40, 10, 0.5, 0, 0], [45, 30, 25, 22, 20]),
                                       (0.15, [50, 20, 8, 0.2, 0], [55, 40, 45, 50, 30])):
        for size, tr, te in zip([2, 10, 50, 100, 300], train_err, test_err):
            rows.append({"arch": "mlp", "size": size, "parameters": dd.n_parameters("mlp", size),
                         "loss": "cross_entropy", "noise": noise, "seed": 0, "epochs": 500,
                         "train_error": tr, "test_error": te, "train_loss": 0.0, "test_loss": 0.0})
    table = pd.DataFrame(rows, columns=dd.CSV_COLUMNS)
    t = dd.find_thresholds(table, n_train=4000, tolerance=1.0).set_index("noise")
    assert t.loc[0.0, "threshold_size"] == 50 and t.loc[0.15, "threshold_size"] == 100
    assert t.loc[0.0, "interpolates"] and t.loc[0.15, "interpolates"]
    # noise 0: a falling curve: the "peak" (window 10..100) is lower than the dip before it
    assert t.loc[0.0, "peak_size"] == 10 and t.loc[0.0, "dip_size"] == 2
    assert t.loc[0.0, "peak_test_error"] < t.loc[0.0, "dip_test_error"]
    assert t.loc[0.15, "dip_size"] == 10 and t.loc[0.15, "peak_size"] == 100
    assert t.loc[0.15, "peak_test_error"] == 50 and t.loc[0.15, "test_error_largest"] == 30
    assert t.loc[0.15, "ratio_to_n"] == pytest.approx(dd.n_parameters("mlp", 100) / 4000)
    assert dd.find_thresholds(table, 4000, tolerance=0.0).set_index("noise").loc[0.0, "threshold_size"] == 100
    text = dd.summary_markdown(table, t.reset_index(), 4000, reference_width=300)
    assert "MLP cross-entropy, noise 0.15: peak 50.0% at size 100; at width 300: 30.0%; peak minus that: +20.0 points; rise from the dip: +10.0" in text
    section = {"label_noise": "notebook", "noise_seed": 0}
    noted = dd.summary_markdown(table, t.reset_index(), 4000, label_noise=dd.label_noise_text(section))
    assert "Label noise: the notebook's draw" in noted.splitlines()[0]
    assert "noise_seed 5" in dd.label_noise_text(dict(section, label_noise="seeded", noise_seed=5))
    never = table.assign(train_error=table.train_error + 20)      # no model fits its training set
    assert not dd.find_thresholds(never, 4000).interpolates.any()


def test_figures_draw_every_panel(tmp_path):
    rows = []
    for arch, loss, noise in (("mlp", "cross_entropy", 0.0), ("mlp", "cross_entropy", 0.15),
                              ("mlp", "mse", 0.0), ("mlp", "mse", 0.15), ("cnn", "cross_entropy", 0.15)):
        for i, size in enumerate([2, 8, 32]):
            rows.append({"arch": arch, "size": size, "parameters": dd.n_parameters(arch, size),
                         "loss": loss, "noise": noise, "seed": 0, "epochs": 3,
                         "train_error": 30.0 - 10 * i, "test_error": 40.0 - i,
                         "train_loss": 1.0, "test_loss": 1.0})
    table = pd.DataFrame(rows)
    thresholds = dd.find_thresholds(table, 4000)
    fig = dd.plot_double_descent(table, thresholds, 0.15)
    assert [len(ax.lines) for ax in fig.axes] == [3, 3, 3]   # test, train, threshold per panel
    fig = dd.plot_losses(table, thresholds, 4000)
    assert len(fig.axes) == 2
    assert any("n*K = 40,000" in t.get_text() for t in fig.axes[0].texts)


def test_notebook_label_noise_continues_the_generation_stream():
    """label_noise: notebook: after make_dataset (seed 42) NumPy's global stream goes on, for
    each training label in order random_sample() < p -> randint(0, 10), as the notebook does."""
    from mnist1d.data import get_dataset_args, make_dataset
    from mnist1d.utils import ObjectView
    args = get_dataset_args(as_dict=True) | {"num_samples": 1000, "train_split": 0.25}
    data = make_dataset(ObjectView(dict(args)))
    y = data["y"].copy()
    for i in range(len(y)):                      # the notebook's cell, on the global stream
        if np.random.random_sample() < 0.15:
            y[i] = np.random.randint(0, 10)
    np.random.seed(123)                          # the replay does not read the global state
    made = dd.notebook_noisy_labels(data["y"], 0.15, args)
    np.testing.assert_array_equal(made, y)
    assert 0.05 < (made != data["y"]).mean() < 0.25
    np.testing.assert_array_equal(dd.notebook_noisy_labels(data["y"], 0.0, args), data["y"])
    with pytest.raises(ValueError, match="seeded"):   # labels of another dataset
        dd.notebook_noisy_labels(data["y"][:-1], 0.15, args)


def test_notebook_noisy_dataset_records_its_method(tmp_path):
    from mnist1d.data import get_dataset_args, make_dataset
    from mnist1d.utils import ObjectView
    args = get_dataset_args(as_dict=True) | {"num_samples": 400, "train_split": 0.5}
    source = make_dataset(ObjectView(dict(args)))
    store.save_dataset(source, args, tmp_path / "src.npz")
    made = dd.make_noisy_dataset(tmp_path / "src.npz", 0.15, 0, tmp_path / "noisy.npz",
                                 method="notebook")
    np.testing.assert_array_equal(made["y"], dd.notebook_noisy_labels(source["y"], 0.15, args))
    recorded = store.read_args(tmp_path / "noisy.npz")
    assert recorded["label_noise_method"] == "notebook" and "label_noise_seed" not in recorded
    assert recorded["label_noise"] == 0.15 and recorded["num_samples"] == 400
    with pytest.raises(ValueError, match="label_noise"):
        dd.make_noisy_dataset(tmp_path / "src.npz", 0.15, 0, tmp_path / "x.npz", method="other")
