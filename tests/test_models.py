"""The benchmark models: the paper's parameter counts; ensemble forward = plain modules."""
import pytest
import torch

from mnist1d import models, specs

NAMES = ["logistic", "mlp", "cnn", "gru"]


@pytest.mark.parametrize("name,count", [("logistic", 410), ("mlp", 15_210), ("cnn", 5_210),
                                        ("gru", 5_134)])
def test_parameter_counts_match_the_paper(name, count):
    assert models.count_parameters(name) == count
    assert sum(p[0].numel() for p in models.init_params(name, [0]).values()) == count


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shared", [True, False])
def test_ensemble_forward_equals_each_plain_module(name, shared):
    spec, seeds = specs.spec_of(name), [4, 0, 9]
    params = models.init_params(spec, seeds, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn((7, 40) if shared else (3, 7, 40), generator=gen, dtype=torch.float64)
    out = models.forward(spec, params, x)
    assert out.shape == (3, 7, 10)
    for k, seed in enumerate(seeds):
        torch.manual_seed(seed)
        net = models.build(spec).double()        # the seed's own initialisation ...
        ref = net(x if shared else x[k])
        torch.testing.assert_close(out[k], ref, rtol=1e-12, atol=1e-12)
        net.load_state_dict(models.member_state_dict(params, k))   # ... and its stored copy
        torch.testing.assert_close(out[k], net(x if shared else x[k]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec", [
    "logistic", "mlp", "cnn", "gru", {"name": "mlp", "hidden": 7, "residual": False},
    {"name": "cnn", "channels": 3, "input_size": 72}, {"name": "gru", "hidden": 2, "input_size": 20},
    {"name": "logistic", "input_size": 13, "output_size": 4},
    *({"name": "pool_cnn", "pooling": p, "channels": 5, "input_size": n}
      for p in specs.POOLINGS for n in (40, 37))])
def test_counted_parameters_equal_the_built_module(spec):
    """specs.count_parameters counts from the layer shapes (no torch: the summary jobs and the
    double-descent tables use it); the built nn.Module is the truth."""
    assert specs.count_parameters(spec) == models.count_parameters(spec)


def test_init_params_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    models.init_params("cnn", [0, 1])
    assert torch.equal(torch.rand(3), expected)


def test_variants_of_the_specs():
    assert models.count_parameters({"name": "mlp", "hidden": 10}) == 410 + 110 + 110
    assert models.count_parameters({"name": "cnn", "channels": 2}) == (
        2 * 5 + 2 + 2 * (2 * 2 * 3 + 2) + 10 * 2 * 5 + 10)
    spec = specs.spec_of({"name": "mlp", "hidden": 8, "residual": False})
    params = models.init_params(spec, [3], dtype=torch.float64)
    torch.manual_seed(3)
    net = models.build(spec).double()
    x = torch.randn(5, 40, dtype=torch.float64)
    torch.testing.assert_close(models.forward(spec, params, x)[0], net(x))


def test_bad_specs_name_the_key():
    with pytest.raises(ValueError, match="name"):
        specs.spec_of("transformer")
    with pytest.raises(ValueError, match="hidden_size"):
        specs.spec_of({"name": "mlp", "hidden_size": 3})
