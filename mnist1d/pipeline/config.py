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


def check_report_config(recorded_path, current):
    """Before `snakemake --report`: the configuration the report's captions will describe must be
    the one the results were made with (results/config.yaml, written by `all`). Raises ValueError
    naming the keys that differ; a missing record is not an error (nothing to compare)."""
    path = Path(recorded_path)
    if not path.exists():
        return
    with open(path) as f:
        recorded = yaml.safe_load(f) or {}
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
