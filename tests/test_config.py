"""Config: presets resolve, and a wrong value stops the run with a message naming the key."""
import pytest
import yaml

from conftest import REPO
from mnist1d.pipeline.config import (deep_merge, describe_validation_error, load_preset, resolve,
                                     typed_like)

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
    (lambda c: c["sweeps"]["noise"].update(arg="padding"), "sweeps.noise.arg"),
]


def snakemake_config(command_line):
    """What Snakemake hands the Snakefile: config.yaml with the command line merged in (its
    update_config: a mapping recurses, anything else replaces)."""
    from snakemake.utils import update_config
    config = paper_config()
    update_config(config, command_line)
    return config


def test_nested_command_line_text_is_typed_like_config_yaml():
    """Snakemake 9 gives `--config benchmark='{steps: 100, seeds: [0, 1]}'` as all text."""
    from snakemake.cli import parse_config
    command_line = parse_config(["benchmark={steps: 100, lr: 1e-3, seeds: [0, 1]}",
                                 "compile=False",
                                 "datasets={default: {seed: 7, shuffle_seq: true}}"])
    assert command_line["benchmark"]["steps"] == "100"            # what Snakemake produces
    resolved = resolve(snakemake_config(command_line), command_line, PRESETS_DIR)
    assert resolved["benchmark"]["steps"] == 100
    assert resolved["benchmark"]["lr"] == 0.001
    assert resolved["benchmark"]["seeds"] == [0, 1]
    assert resolved["benchmark"]["models"] == paper_config()["benchmark"]["models"]
    assert resolved["datasets"]["default"] == {"seed": 7, "shuffle_seq": True}
    assert resolved["compile"] is False


def test_mapping_given_as_one_string_is_parsed_and_keeps_the_other_keys():
    command_line = {"benchmark": "{steps: 100}", "preset": "smoke"}
    config = snakemake_config(command_line)
    assert config["benchmark"] == "{steps: 100}"                 # the mapping was replaced
    resolved = resolve(config, command_line, PRESETS_DIR)
    assert resolved["benchmark"]["steps"] == 100                   # the command line wins
    assert resolved["benchmark"]["eval_every"] == 50               # the smoke preset's
    assert resolved["benchmark"]["lr"] == paper_config()["benchmark"]["lr"]


def test_text_that_is_no_mapping_names_the_key_and_configfile():
    command_line = {"benchmark": "{steps: 100"}
    with pytest.raises(ValueError, match="config key 'benchmark'.*--configfile FILE"):
        resolve(snakemake_config(command_line), command_line, PRESETS_DIR)


def test_text_stays_text_where_config_yaml_has_text_or_nothing():
    reference = {"jobs": {"gpu_model": "", "gres": ""}, "tsne": {"perplexity": 30}}
    value = {"jobs": {"gpu_model": "100", "gres": "gpu:1"}, "tsne": {"mnist_path": "7"}}
    assert typed_like(value, reference) == value
    not_a_number = {"tsne": {"perplexity": "many"}}
    assert typed_like(not_a_number, reference) == not_a_number


def schema_error(instance, schema):
    import jsonschema
    return next(jsonschema.Draft202012Validator(schema).iter_errors(instance))


def test_message_for_text_where_a_number_is_expected_says_what_to_do():
    schema = {"type": "object", "properties": {"datasets": {"type": "object", "properties": {
        "mine": {"type": "object", "properties": {"num_samples": {"type": "integer"}}}}}}}
    message = describe_validation_error(
        schema_error({"datasets": {"mine": {"num_samples": "abc"}}}, schema))
    assert message.startswith("config key 'datasets.mine.num_samples': 'abc' is not of type")
    assert "--configfile FILE" in message and "`datasets: {mine: {num_samples: ...}}`" in message
    assert "an integer" in message


def test_message_for_other_errors_has_no_configfile_advice():
    schema = {"type": "object", "properties": {"steps": {"type": "integer", "minimum": 1}}}
    message = describe_validation_error(schema_error({"steps": 0}, schema))
    assert message == ("config key 'steps': 0 is less than the minimum of 1 "
                       "(checked against workflow/schemas/)")
    text_wanted = {"type": "object", "properties": {"name": {"type": "string"}}}
    assert "--configfile" not in describe_validation_error(schema_error({"name": 3}, text_wanted))


def test_a_number_given_for_a_null_of_config_yaml_is_a_number():
    """seeds_per_job is null in config.yaml; `--config pooling='{seeds_per_job: 2}'` gives '2'."""
    from snakemake.cli import parse_config
    command_line = parse_config(["pooling={seeds_per_job: 2}", "benchmark={seeds_per_job: null}"])
    assert command_line["pooling"]["seeds_per_job"] == "2"          # what Snakemake produces
    resolved = resolve(snakemake_config(command_line), command_line, PRESETS_DIR)
    assert resolved["pooling"]["seeds_per_job"] == 2
    assert resolved["benchmark"]["seeds_per_job"] is None
    assert resolved["pooling"]["seeds"] == paper_config()["pooling"]["seeds"]
    # text that is no YAML number stays text, and the schema names the key
    assert typed_like({"a": {"b": "two"}}, {"a": {"b": None}}) == {"a": {"b": "two"}}
