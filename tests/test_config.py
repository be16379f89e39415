"""Config: presets resolve, and a wrong value stops the run with a message naming the key."""
import pytest
import yaml

from conftest import REPO, run_snakemake
from mnist1d.pipeline.config import deep_merge, load_preset, resolve

PRESETS_DIR = REPO / "workflow" / "presets"


def test_deep_merge_recurses_and_copies():
    base = {"a": {"b": 1, "c": 2}, "d": [1]}
    merged = deep_merge(base, {"a": {"b": 5}, "e": 3})
    assert merged == {"a": {"b": 5, "c": 2}, "d": [1], "e": 3}
    assert base["a"]["b"] == 1


def test_command_line_wins_over_preset():
    config = {"preset": "smoke", "x": {"y": 1}}
    resolved = resolve(config, {"x": {"y": 7}}, PRESETS_DIR)
    assert resolved["x"]["y"] == 7


def test_unknown_preset_is_named():
    with pytest.raises(ValueError, match="preset"):
        load_preset("fast", PRESETS_DIR)


def paper_config():
    return yaml.safe_load(open(REPO / "config.yaml"))


BAD = [
    (lambda c: c["datasets"]["default"].update(num_samples=-5), "datasets.default.num_samples"),
    (lambda c: c["datasets"]["default"].update(train_split=1.5), "datasets.default.train_split"),
    (lambda c: c["datasets"]["default"].update(train_split=0), "datasets.default.train_split"),
    (lambda c: c["datasets"]["default"].update(num_sample=100), "num_sample"),
    (lambda c: c.update(preset="fast"), "preset"),
    (lambda c: c.update(devise="cpu"), "devise"),
]


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
