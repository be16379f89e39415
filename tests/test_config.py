"""Config: presets resolve, and a wrong value stops the run with a message naming the key."""
import pytest
import yaml

from helpers import REPO
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


# --- compile: true/false for every experiment, or a mapping experiment -> true/false ----------

def test_compile_for_a_boolean_is_every_experiment():
    from mnist1d.specs import COMPILED_EXPERIMENTS, compile_for
    for value in (True, False):
        assert {compile_for({"compile": value}, e) for e in COMPILED_EXPERIMENTS} == {value}
    assert compile_for({}, "ssl") is False                       # no key: nothing compiles


def test_compile_for_a_mapping_names_experiments_and_leaves_the_others_eager():
    from mnist1d.specs import compile_for
    config = {"compile": {"lottery": True, "double_descent": False}}
    assert compile_for(config, "lottery") is True
    assert compile_for(config, "double_descent") is False
    assert compile_for(config, "benchmark") is False             # not named: not compiled


@pytest.mark.parametrize("value, key", [
    ({"double_descent": "yes"}, "compile.double_descent"),
    ({"dd": True}, "compile.dd"),
    ("sometimes", "compile"),
    (1, "compile"),
])
def test_compile_for_a_bad_value_names_the_key(value, key):
    from mnist1d.specs import compile_for
    with pytest.raises(ValueError, match=f"config key '{key}'"):
        compile_for({"compile": value}, "double_descent")


def test_compile_for_an_unknown_experiment_is_an_error():
    from mnist1d.specs import compile_for
    with pytest.raises(ValueError, match="tsne"):
        compile_for({"compile": True}, "tsne")


def every_compiled_protocol(config):
    """experiment -> the `compile` of each of its jobs' protocols (as the rules pass them)."""
    from mnist1d.experiments import (benchmark, double_descent, lottery, metalearn_afunc, pooling,
                                     ssl, sweeps)
    dd_job = double_descent.plan_jobs(config["double_descent"])[0]["name"]
    sweep = sweeps.names(config)[0]
    value = str(sweeps.settings(config, sweep)["values"][0])
    return {
        "benchmark": [benchmark.protocol_from_config(config, m, v)["compile"]
                      for m in config["benchmark"]["models"] for v in ("normal", "shuffled")],
        "pooling": [pooling.protocol_from_config(config, v)["compile"]
                    for v in config["pooling"]["variants"]],
        "double_descent": [double_descent.protocol_from_config(config, dd_job)["compile"]],
        "lottery": [lottery.protocol_from_config(config, p)["compile"] for p in lottery.PARTS],
        "ssl": [ssl.protocol_from_config(config)["compile"]]
               + [ssl.variant_protocol(config, v)["compile"] for v in config["ssl"]["variants"]],
        "metalearn": [metalearn_afunc.protocol_from_config(config)["implementation"] == "compiled"],
        "sweeps": [sweeps.protocol_from_config(config, sweep, value,
                                               sweeps.chunks(config, sweep)[0])["compile"]],
    }


@pytest.mark.parametrize("experiment", ["benchmark", "pooling", "double_descent", "lottery", "ssl",
                                        "metalearn", "sweeps"])
def test_every_protocol_takes_its_experiments_compile_choice(experiment):
    from helpers import resolved_config
    config = resolved_config("paper")
    config["metalearn"]["afunc"]["implementation"] = "compiled"
    config["sweeps"]["defaults"]["compile"] = True       # the sweep's own switch allows it
    config["compile"] = {experiment: True}
    chosen = every_compiled_protocol(config)
    assert all(chosen[experiment]) and chosen[experiment]
    assert not any(v for name, values in chosen.items() if name != experiment for v in values)
    config["compile"] = True
    assert all(v for values in every_compiled_protocol(config).values() for v in values)


def test_a_sweep_compiles_only_where_its_own_switch_allows_it():
    from helpers import resolved_config
    config = resolved_config("paper")
    config["compile"] = {"sweeps": True}
    config["sweeps"]["defaults"]["compile"] = False
    assert every_compiled_protocol(config)["sweeps"] == [False]


@pytest.mark.parametrize("preset", ["quick", "smoke"])
def test_quick_and_smoke_compile_nothing(preset):
    from helpers import resolved_config
    from mnist1d.specs import COMPILED_EXPERIMENTS, compile_for
    config = resolved_config(preset)
    assert config["compile"] is False
    assert not any(compile_for(config, e) for e in COMPILED_EXPERIMENTS)


def config_schema_message(config):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate
    try:
        validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    except WorkflowError as e:
        return describe_validation_error(e.__context__)
    return None


@pytest.mark.parametrize("value, expected", [
    (True, None), (False, None), ({}, None), ({"double_descent": False, "lottery": True}, None),
    ({"double_descent": "yes"}, "config key 'compile.double_descent'"),
    ({"dd": True}, "'dd' was unexpected"),
    ("sometimes", "config key 'compile'"),
])
def test_schema_takes_a_boolean_or_a_mapping_and_names_a_bad_key(value, expected):
    from helpers import resolved_config
    config = resolved_config("paper")
    config["compile"] = value
    message = config_schema_message(config)
    if expected is None:
        assert message is None, message
    else:
        assert message is not None and expected in message, message


def test_compile_on_the_command_line_is_a_boolean_or_a_mapping():
    from snakemake.cli import parse_config
    for text in ("compile=false", "compile=False"):
        command_line = parse_config([text])
        resolved = resolve(snakemake_config(command_line), command_line, PRESETS_DIR)
        assert resolved["compile"] is False
    command_line = parse_config(["compile={ssl: false}"])
    resolved = resolve(snakemake_config(command_line), command_line, PRESETS_DIR)
    paper = paper_config()["compile"]
    assert resolved["compile"] == ({**paper, "ssl": False} if isinstance(paper, dict)
                                   else {"ssl": False})
