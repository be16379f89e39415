"""Pipeline configuration: presets layered over the paper protocol of config.yaml."""
import copy
from pathlib import Path

import yaml

PRESETS = ("paper", "quick", "smoke")


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


def resolve(config, command_line, presets_dir):
    """config.yaml + the preset's overrides + the command line's --config values (these win)."""
    preset = config.get("preset", "paper")
    merged = deep_merge(config, load_preset(preset, presets_dir))
    return deep_merge(merged, command_line)


def describe_validation_error(error):
    """One line naming the offending config key, from a jsonschema ValidationError."""
    path = ".".join(str(p) for p in error.absolute_path)
    where = f"config key '{path}'" if path else "config"
    return f"{where}: {error.message} (checked against workflow/schemas/)"
