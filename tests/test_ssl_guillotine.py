"""SSL model variants (the notebook's guillotine): shapes, per-layer features, the main model
unchanged, the per-layer probe table."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mnist1d import specs
from mnist1d.experiments import ssl


class ReferenceNet(nn.Module):
    """The main SSL model as written before variants existed (conv1-3, proj1, proj2)."""

    def __init__(self):
        super().__init__()
        (k1, s1, p1), (k2, s2, p2), (k3, s3, p3) = specs.CNN_LAYERS
        self.conv1 = nn.Conv1d(1, 25, k1, stride=s1, padding=p1)
        self.conv2 = nn.Conv1d(25, 25, k2, stride=s2, padding=p2)
        self.conv3 = nn.Conv1d(25, 25, k3, stride=s3, padding=p3)
        self.proj1 = nn.Linear(125, 125)
        self.proj2 = nn.Linear(125, 16)

    def forward(self, x):
        h = x.view(-1, 1, 40)
        for c in (self.conv1, self.conv2, self.conv3):
            h = c(h).relu()
        return self.proj2(self.proj1(h.reshape(len(x), -1)).relu())


def test_main_model_is_unchanged():
    torch.manual_seed(3)
    ref = ReferenceNet()
    params = ssl.init_params(ssl.settings_of({}), [3])
    assert list(params) == [n for n, _ in ref.named_parameters()]
    for name, p in ref.named_parameters():
        assert torch.equal(params[name][0], p.detach()), name
    x = torch.randn(7, 40)
    torch.testing.assert_close(ssl.forward(params, x.unsqueeze(0))[0], ref(x))
    explicit = ssl.init_params(ssl.settings_of({"projector": [125, 16]}), [3])
    assert all(torch.equal(explicit[k], params[k]) for k in params)
    assert ssl.layer_names([125, 16]) == ssl.LAYERS


@pytest.mark.parametrize("widths, layers, dims", [
    ([], ("input", "conv1", "conv2", "conv3"), [40, 475, 250, 125]),
    ([125, 125, 125, 16], ("input", "conv1", "conv2", "conv3", "hidden1", "hidden2", "hidden3",
                           "output"), [40, 475, 250, 125, 125, 125, 125, 16]),
    ([32], ("input", "conv1", "conv2", "conv3", "output"), [40, 475, 250, 125, 32]),
])
def test_variants_shapes_and_layers(widths, layers, dims):
    s = ssl.settings_of({"projector": widths})
    net = ssl.build(s)
    assert net.layer_names == layers
    outs = net(torch.randn(5, 40))
    assert [outs[n].shape for n in layers] == [(5, d) for d in dims]
    expected_out = dims[-1]
    assert outs["output"].shape == (5, expected_out)    # without projector: the features
    params = ssl.init_params(s, [0, 1])
    assert ssl.param_layers(params) == layers
    x = torch.randn(6, 40)
    ens = ssl.forward(params, x, layers=True)
    torch.manual_seed(1)
    member = ssl.build(s)
    plain = member(x)
    for n in layers:
        torch.testing.assert_close(ens[n][1], plain[n], rtol=1e-5, atol=1e-6)
    hidden = [n for n in layers if n.startswith("hidden")]
    assert all((outs[n] >= 0).all() for n in hidden)     # ReLU between projector layers


def test_variant_trains_and_probes_every_layer():
    rng = np.random.default_rng(0)
    y, y_test = rng.integers(0, 10, 200), rng.integers(0, 10, 100)
    data = {"x": rng.normal(size=(200, 40)).astype(np.float32), "y": y,
            "x_test": rng.normal(size=(100, 40)).astype(np.float32), "y_test": y_test}
    s = {"epochs": 1, "projector": [125, 125, 125, 16]}
    initial, final, history = ssl.train_ssl(data["x"], [0, 1], s)
    assert not torch.equal(initial["proj4.weight"], final["proj4.weight"])
    assert len(history) == 2 and np.isfinite(history.loss).all()
    table = ssl.probe(data, {"after": final}, [0, 1], max_iter=20)
    assert list(dict.fromkeys(table.layer)) == list(ssl.layer_names(s["projector"]))
    assert len(table) == 1 + 2 * 7


def _fake(layers, seeds, base):
    rows = [{"layer": "input", "dim": 40, "stage": "input", "seed": -1, "knn_acc": 60.0,
             "linear_acc": 33.0}]
    for i, layer in enumerate(layers):
        for j, seed in enumerate(seeds):
            rows.append({"layer": layer, "dim": 10 + i, "stage": "after", "seed": seed,
                         "knn_acc": base + i + j, "linear_acc": base + 2 * i + 2 * j})
            rows.append({"layer": layer, "dim": 10 + i, "stage": "before", "seed": seed,
                         "knn_acc": 0.0, "linear_acc": 0.0})
    return pd.DataFrame(rows)


def test_guillotine_table():
    tables = {"projector": _fake(["conv1", "conv2", "conv3", "hidden", "output"], [0, 1, 2], 70),
              "none": _fake(["conv1", "conv2", "conv3"], [0, 1], 50)}
    t = ssl.guillotine_table(tables)
    assert len(t) == 2 * (6 + 4)
    p = t[(t.model == "projector") & (t.metric == "linear_acc")].set_index("depth")
    assert list(p.layer) == ["input", "conv1", "conv2", "conv3", "hidden", "output"]
    assert p.loc[0, "mean"] == 33.0 and p.loc[0, "std"] == 0 and p.loc[0, "n_seeds"] == 1
    assert p.loc[2, "mean"] == pytest.approx(72 + 2)              # 72, 74, 76 ("before" ignored)
    assert p.loc[2, "std"] == pytest.approx(2.0)
    assert (p.loc[2, "min"], p.loc[2, "max"], p.loc[2, "n_seeds"]) == (72, 76, 3)
    n = t[(t.model == "none") & (t.metric == "knn_acc")]
    assert n.depth.max() == 3 and n["mean"].iloc[-1] == pytest.approx(52.5)
    md = ssl.guillotine_markdown(t)
    assert "| none |" in md and "74.0 ± 2.0" in md
    with pytest.raises(ValueError, match="raw-input"):
        ssl.guillotine_table({"x": tables["none"][tables["none"].layer != "input"]})


def test_variant_protocol_names_the_key():
    config = {"ssl": {"seeds": [0], "knn_k": 10, "probe_max_iter": 5, "epochs": 3,
                      "variants": {"none": [], "deep": [8, 4]}}, "compile": False}
    p = ssl.variant_protocol(config, "deep")
    assert p["settings"]["projector"] == [8, 4] and p["variant"] == "deep"
    assert "projector" not in ssl.protocol_from_config(config)["settings"]   # main job unchanged
    with pytest.raises(ValueError, match="ssl.variants"):
        ssl.variant_protocol(config, "wide")
    # the variants train with the main model's shift and loss
    config["ssl"] |= {"shift": "both", "loss": "symmetric"}
    for name in ("none", "deep"):
        settings = ssl.variant_protocol(config, name)["settings"]
        assert (settings["shift"], settings["loss"]) == ("both", "symmetric")
