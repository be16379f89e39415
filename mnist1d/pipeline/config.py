"""Pipeline configuration: presets layered over the paper protocol of config.yaml."""
from mnist1d._extras import require
require("yaml", extra="pipeline", by=__name__)

import copy
from pathlib import Path

import yaml

PRESETS = ("paper", "quick", "smoke")
# Keys whose value is true/false or a mapping (compile: every experiment, or per experiment)
BOOL_OR_MAPPING = ("compile",)


def deep_merge(base, override):
    """A copy of `base` with `override` merged in, recursing into dicts."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_preset(name, presets_dir):
    """The overrides of preset `name` (paper has none: config.yaml is the paper protocol)."""
    if name not in PRESETS:
        raise ValueError(f"config key 'preset': unknown preset {name!r}; choose one of {PRESETS}")
    if name == "paper":
        return {}
    path = Path(presets_dir) / f"{name}.yaml"
    with open(path) as f:
        return yaml.safe_load(f) or {}


def workflow_defaults(presets_dir):
    """config.yaml of the workflow whose presets are in `presets_dir` (ROOT/workflow/presets ->
    ROOT/config.yaml, where the Snakefile's `configfile:` reads it); {} where there is none."""
    path = Path(presets_dir).parents[1] / "config.yaml"
    if not path.exists():
        return {}
    with open(path) as f:
        return yaml.safe_load(f) or {}


def _dataset_reference(entry):
    """What a `datasets` entry's settings are typed by: the generator's defaults under it."""
    from mnist1d.data import get_dataset_args

    return {**get_dataset_args(as_dict=True), **(entry if isinstance(entry, dict) else {})}


def _yaml_or_text(text):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _mapping_from_text(text, reference, key):
    """A mapping given on the command line as text (`--config key='{a: 1}'`), parsed as YAML."""
    parsed = _yaml_or_text(text)
    if not isinstance(parsed, dict):
        example = ", ".join(f"{k}: ..." for k in list(reference)[:2]) or "KEY: VALUE"
        raise ValueError(
            f"config key '{key}': the command line gave the text {text!r}, but '{key}' is a "
            f"mapping of settings in config.yaml ({sorted(reference)}) and the text is not a "
            f"YAML mapping. Put nested settings in a YAML file, e.g. `{key}: {{{example}}}`, and "
            f"pass it with --configfile FILE (or give a mapping: --config {key}='{{{example}}}')")
    return parsed


def _number_from_text(text):
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def typed_like(value, reference, key=""):
    """A command-line value, converted where it is text and config.yaml (`reference`) has a
    mapping, a number, a boolean or a list at the same key.

    Snakemake types a top-level `--config key=value` (int, float, True/False), but gives every
    value nested in a mapping (`--config benchmark='{steps: 100}'`) as text: {"steps": "100"};
    and a mapping may arrive as one string. Text stays text where config.yaml has text, and
    where it has nothing to compare with; where config.yaml has null (an optional setting), text
    that is a YAML number, boolean or null becomes that.
    """
    if isinstance(value, str):
        if isinstance(reference, dict) and key in BOOL_OR_MAPPING:
            parsed = _yaml_or_text(value)
            if isinstance(parsed, bool):       # `--config compile=false` as text
                return parsed
        if isinstance(reference, dict):
            value = _mapping_from_text(value, reference, key)
        elif isinstance(reference, bool):
            parsed = _yaml_or_text(value)
            return parsed if isinstance(parsed, bool) else value
        elif isinstance(reference, (int, float)):
            return _number_from_text(value)
        elif isinstance(reference, list):
            parsed = _yaml_or_text(value)
            value = parsed if isinstance(parsed, list) else value
    if isinstance(value, dict) and isinstance(reference, dict):
        out = {}
        for name, item in value.items():
            item_reference = reference.get(name)
            if key == "datasets":
                item_reference = _dataset_reference(item_reference)
            if name in reference and item_reference is None and isinstance(item, str):
                # null in config.yaml (an optional setting, e.g. seeds_per_job): a YAML scalar
                parsed = _yaml_or_text(item)
                item = parsed if parsed is None or isinstance(parsed, (bool, int, float)) else item
            out[name] = typed_like(item, item_reference, f"{key}.{name}" if key else str(name))
        return out
    if isinstance(value, list) and isinstance(reference, list) and reference:
        return [typed_like(item, reference[0], f"{key}[{i}]") for i, item in enumerate(value)]
    return value


def _restore_replaced(config, raw, typed, reference):
    """`config` (config.yaml with the command line merged in by Snakemake) with config.yaml's
    values back wherever the command line replaced a mapping by text that `typed` parsed: the
    parsed mapping then overrides config.yaml's keys instead of dropping the others."""
    out = dict(config)
    for key, value in raw.items():
        ref = reference.get(key) if isinstance(reference, dict) else None
        if isinstance(value, str) and isinstance(typed.get(key), dict):
            out[key] = copy.deepcopy(ref) if isinstance(ref, dict) else {}
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _restore_replaced(out[key], value, typed[key], ref)
    return out


def resolve(config, command_line, presets_dir, defaults=None):
    """config.yaml + the preset's overrides + the command line's --config values (these win),
    with `results_dir` filled in (default_results_dir).

    `config` is Snakemake's (config.yaml with the command line already merged in),
    `command_line` the --config / --configfile values. Those given as text where config.yaml
    (`defaults`; by default read beside `presets_dir`, see workflow_defaults) has a mapping, a
    number, a boolean or a list are converted first (typed_like). Text that should be a
    mapping but is not one raises ValueError naming the key.
    """
    defaults = workflow_defaults(presets_dir) if defaults is None else defaults
    command_line = command_line or {}
    typed = typed_like(command_line, defaults)
    config = _restore_replaced(config, command_line, typed, defaults)
    preset = config.get("preset", "paper")
    merged = deep_merge(deep_merge(config, load_preset(preset, presets_dir)), typed)
    merged.setdefault("results_dir", default_results_dir(merged))
    return merged


def default_results_dir(config):
    """Where a configuration's files go unless `results_dir` says otherwise: results/ for the
    paper preset, results/<preset>/ for another, so that presets never overwrite each other."""
    preset = config.get("preset", "paper")
    return "results" if preset == "paper" else f"results/{preset}"


# JSON-schema types a value given as text on the command line may fail, in words
NON_TEXT_TYPES = {"integer": "an integer", "number": "a number", "boolean": "true or false",
                  "object": "a mapping", "array": "a list"}


def _nested_example(keys):
    """`a: {b: ...}` for the key path [a, b]: the YAML that sets it in a --configfile."""
    text = "..."
    for key in reversed(keys[1:]):
        text = f"{{{key}: {text}}}"
    return f"{keys[0]}: {text}"


def describe_validation_error(error):
    """One line naming the offending config key, from a jsonschema ValidationError; where the
    value is text but the schema wants a number, boolean, mapping or list, also what to do."""
    keys = [str(p) for p in error.absolute_path]
    path = ".".join(keys)
    where = f"config key '{path}'" if path else "config"
    message = f"{where}: {error.message} (checked against workflow/schemas/)"
    expected = error.validator_value if error.validator == "type" else None
    expected = [expected] if isinstance(expected, str) else list(expected or ())
    wanted = [NON_TEXT_TYPES[t] for t in expected if t in NON_TEXT_TYPES]
    if isinstance(error.instance, str) and keys and wanted and "string" not in expected:
        wanted = " or ".join(wanted)
        message += (f". The value is text: a value nested in --config (--config "
                    f"{keys[0]}='{{...}}') stays text unless config.yaml has {wanted} at that "
                    f"key and the text reads as one. Give {wanted} there, or put the setting in "
                    f"a YAML file (`{_nested_example(keys)}`) and pass it with --configfile FILE")
    return message


def differing_keys(recorded, current, prefix=""):
    """The dotted keys whose values differ between two configurations (recursing into dicts)."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(recorded) | set(current), key=str):
            if key not in recorded or key not in current:
                out.append(f"{prefix}{key}")
            else:
                out += differing_keys(recorded[key], current[key], f"{prefix}{key}.")
        return out
    return [] if recorded == current else [prefix.rstrip(".")]


def read_recorded_config(path):
    """The configuration `all` recorded in `path` (RESULTS/config.yaml), None where there is no
    such file; ValueError naming the path where it cannot be read as a mapping."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with open(path) as f:
            recorded = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"{path} (the configuration the results beside it were made with) "
                         f"cannot be read ({err}); fix or delete it") from None
    if not isinstance(recorded, dict):
        raise ValueError(f"{path} (the configuration the results beside it were made with) is "
                         f"not a mapping; fix or delete it")
    return recorded


def check_report_config(recorded_path, current):
    """Before `snakemake --report`: the configuration the report's captions will describe must be
    the one the results were made with (results/config.yaml, written by `all`). Raises ValueError
    naming the keys that differ; a missing record is not an error (nothing to compare)."""
    path = Path(recorded_path)
    recorded = read_recorded_config(path)
    if recorded is None:
        return
    keys = differing_keys(recorded, yaml.safe_load(yaml.safe_dump(current)))
    if keys:
        shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
        raise ValueError(
            f"{path} records the configuration the results were made with (preset "
            f"{recorded.get('preset')!r}), and this report's configuration (preset "
            f"{current.get('preset')!r}) differs in: {shown}. The captions would describe a "
            f"protocol the figures were not made with: give --report the same --config / "
            f"--configfile as the run (e.g. --config preset={recorded.get('preset', 'paper')}), "
            f"or run `all` again with this configuration first.")
