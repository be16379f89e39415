"""A bad configuration stops the workflow before any job, naming the key (dry runs)."""
import pytest
import yaml

from helpers import run_snakemake
from tests.test_config import BAD, paper_config


def test_a_variant_without_its_dataset_is_refused(tmp_path):
    proc = run_snakemake(tmp_path, "all", "-n", "--config", "preset=smoke",
                         "benchmark={'variants': {'normal': 'nosuchdata'}}", check=False)
    assert proc.returncode != 0
    assert "benchmark.variants.normal" in proc.stdout + proc.stderr


def test_a_missing_double_descent_dataset_is_refused(tmp_path):
    proc = run_snakemake(tmp_path, "all", "-n", "--config", "preset=smoke",
                         "double_descent={'dataset': 'nosuchdata'}", check=False)
    assert proc.returncode != 0
    assert "double_descent.dataset" in proc.stdout + proc.stderr


def test_bad_lottery_config_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("lottery:\n  search:\n    dataset: nope\n")
    proc = run_snakemake(tmp_path, "-n", "all", "--configfile", str(bad), "--config",
                         "preset=smoke", check=False)
    assert proc.returncode != 0
    assert "lottery.search.dataset" in proc.stdout + proc.stderr


def test_a_lottery_score_step_beyond_the_round_names_the_key(tmp_path):
    proc = run_snakemake(tmp_path, "-n", "all", "--config", "preset=smoke",
                         "lottery={'search': {'score_step': 21}}", check=False)
    assert proc.returncode != 0
    assert "lottery.search.score_step" in proc.stdout + proc.stderr


def test_a_sweep_value_the_generator_cannot_use_names_the_key(tmp_path):
    proc = run_snakemake(tmp_path, "sweeps", "-n", "--config", "preset=smoke",
                         "sweeps={translation: {values: [0, 12]}}", check=False)
    assert proc.returncode != 0
    assert "sweeps.translation.values[0]" in proc.stdout + proc.stderr


def test_missing_mnist_file_stops_the_workflow_naming_the_key(tmp_path):
    proc = run_snakemake(tmp_path, "all", "-n", "--config", "preset=smoke",
                         f"tsne={{mnist_path: {tmp_path / 'absent.npz'}}}", check=False)
    assert proc.returncode != 0
    assert "tsne.mnist_path" in proc.stdout + proc.stderr


@pytest.mark.parametrize("spoil, key", BAD, ids=[key for _, key in BAD])
def test_bad_config_stops_before_any_job_and_names_the_key(tmp_path, spoil, key):
    config = paper_config()
    spoil(config)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "results" / "data").mkdir(parents=True)
    finished = tmp_path / "results" / "data" / "default.npz"
    finished.write_bytes(b"a finished result")
    proc = run_snakemake(tmp_path, "all", "--cores", "1", "--configfile", str(tmp_path / "bad.yaml"),
                         check=False)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert f"config key '{key}'" in message or f"'{key}' was unexpected" in message, message[-2000:]
    assert finished.read_bytes() == b"a finished result"


@pytest.mark.parametrize("preset", ["paper", "quick", "smoke"])
def test_every_preset_validates(tmp_path, preset):
    proc = run_snakemake(tmp_path, "all", "-n", "--config", f"preset={preset}")
    assert proc.returncode == 0


def test_nested_config_override_runs_end_to_end(tmp_path):
    proc = run_snakemake(tmp_path, "all", "-n", "--config", "benchmark={steps: 100, seeds: [0]}",
                         "datasets={default: {seed: 42}}")
    assert proc.returncode == 0


def test_a_custom_model_that_cannot_be_imported_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  mine: {class: 'no_such_package.nets:Net'}\n"
                   "benchmark:\n  models: [cnn, mine]\n")
    proc = run_snakemake(tmp_path, "-n", "all", "--configfile", str(bad), "--config",
                         "preset=smoke", check=False)
    assert proc.returncode != 0
    assert "config key 'models.mine.class'" in proc.stdout + proc.stderr
