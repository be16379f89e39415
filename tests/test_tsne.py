"""t-SNE and the input-space baselines."""
import numpy as np
import pytest

from mnist1d.experiments import tsne


def test_classifiers_on_separable_and_random_data():
    rng = np.random.default_rng(0)
    y, y_test = rng.integers(0, 3, 200), rng.integers(0, 3, 100)
    x, x_test = rng.normal(size=(200, 5)) + 5 * y[:, None], rng.normal(size=(100, 5)) + 5 * y_test[:, None]
    assert tsne.knn_accuracy(x, y, x_test, y_test, k=10) == 100.0
    assert tsne.linear_accuracy(x, y, x_test, y_test) == 100.0
    noise = rng.normal(size=(100, 5))
    assert tsne.knn_accuracy(x, y, noise, y_test, k=10) < 60


def test_embedding_shape_and_determinism():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=(40, 8)), rng.normal(size=(40, 8)) + 20])
    a, b = tsne.embed(x, seed=3), tsne.embed(x, seed=3)
    assert a.shape == (80, 2)
    np.testing.assert_allclose(a, b)
    # two far-apart blobs stay apart
    assert np.linalg.norm(a[:40].mean(0) - a[40:].mean(0)) > 3 * a[:40].std(0).max()


def test_mnist_loader_names_the_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="tsne.mnist_path"):
        tsne.load_mnist(tmp_path / "absent.npz")
    np.savez(tmp_path / "bad.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="tsne.mnist_path"):
        tsne.load_mnist(tmp_path / "bad.npz")
    np.savez(tmp_path / "mnist.npz", x_train=np.full((30, 28, 28), 255, np.uint8),
             y_train=np.arange(30) % 10)
    x, y = tsne.load_mnist(tmp_path / "mnist.npz", n=20)
    assert x.shape == (20, 784) and x.max() == 1.0 and len(y) == 20


def test_logistic_baseline_protocols():
    """tsne.logistic: standardised = the notebook's StandardScaler + LogisticRegression(tol=1e-2,
    max_iter=1000); raw = plain LogisticRegression on the inputs."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(2)
    y, y_test = rng.integers(0, 4, 300), rng.integers(0, 4, 200)
    scale = np.array([100.0, 0.01, 1.0, 3.0, 0.3])     # very unequal feature scales
    x = (rng.normal(size=(300, 5)) + 0.8 * y[:, None]) * scale
    x_test = (rng.normal(size=(200, 5)) + 0.8 * y_test[:, None]) * scale
    data = {"x": x, "y": y, "x_test": x_test, "y_test": y_test}
    table = tsne.baselines(data, k=5, logistic="standardised")
    reference = make_pipeline(StandardScaler(), LogisticRegression(tol=1e-2, max_iter=1000))
    expected = 100.0 * np.mean(reference.fit(x, y).predict(x_test) == y_test)
    assert table.method.iloc[1].startswith("logistic regression (standardised")
    assert table.test_acc.iloc[1] == expected
    raw = tsne.baselines(data, k=5, logistic="raw")
    assert raw.method.iloc[1] == "logistic regression (raw inputs)"
    assert raw.test_acc.iloc[0] == table.test_acc.iloc[0]      # kNN is the same
    with pytest.raises(ValueError, match="tsne.logistic"):
        tsne.baselines(data, logistic="scaled")
