"""What a job trains, without torch: model specs and training protocols.

The figure, table and aggregation jobs and Snakemake's own process (the rules'
`protocol_from_config`) need the model specs (`spec_of`, `spec_for`), their parameter counts and
the engine's protocol (`protocol_of`, `adam_in_order`, epochs -> steps) but not torch, whose import
costs a job about 1.5 s of CPU. They live here, and only here: `mnist1d.models` and
`mnist1d.train` import them from this module, which imports neither of them.
"""

# ---------------------------------------------------------------------------------------------
# Model specs

DEFAULTS = {
    "logistic": {"input_size": 40, "output_size": 10},
    "mlp": {"input_size": 40, "output_size": 10, "hidden": 100, "residual": True},
    "cnn": {"input_size": 40, "output_size": 10, "channels": 25},
    "gru": {"input_size": 40, "output_size": 10, "hidden": 6},
    "pool_cnn": {"input_size": 40, "output_size": 10, "channels": 20, "pooling": "none"},
}
PAPER_PARAMETERS = {"logistic": 410, "mlp": 15_210, "cnn": 5_210, "gru": 5_134}
CNN_LAYERS = ((5, 2, 1), (3, 2, 1), (3, 2, 1))  # (kernel, stride, padding) of the three convs
# The pooling CNN of the paper's pooling experiment (the reference notebook
# benchmark-pooling.ipynb): conv (kernel 3, padding 1, stride s), ReLU, pool, twice.
# pooling -> (stride of both convs, pooling window): none = stride 1 without pooling (linear in
# channels * 40), stride2 = stride 2 without pooling, max / avg / l2 = stride 1 then pooling 2.
POOLINGS = {"none": (1, 1), "stride2": (2, 1), "max": (1, 2), "avg": (1, 2), "l2": (1, 2)}


def spec_of(spec):
    """A full model spec from a name ("cnn") or a partial dict ({"name": "mlp", "hidden": 50})."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = spec.get("name")
    if name == "module":                                   # a user's module (module_spec)
        unknown = set(spec) - MODULE_KEYS
        if unknown or "class" not in spec:
            raise ValueError(f"module spec: unknown keys {sorted(unknown)} or no 'class'; "
                             f"known: {sorted(MODULE_KEYS)}")
        return module_spec(spec["class"], spec.get("kwargs"), spec.get("label"),
                           spec.get("input_size", 40), spec.get("output_size", 10))
    if name not in DEFAULTS:
        raise ValueError(f"model 'name': {name!r} is not one of {sorted(DEFAULTS)}")
    unknown = set(spec) - set(DEFAULTS[name]) - {"name"}
    if unknown:
        raise ValueError(f"model {name!r}: unknown keys {sorted(unknown)}; "
                         f"known: {sorted(DEFAULTS[name])}")
    spec = {"name": name, **DEFAULTS[name], **spec}
    if name == "pool_cnn" and spec["pooling"] not in POOLINGS:
        raise ValueError(f"model 'pooling': {spec['pooling']!r} is not one of {sorted(POOLINGS)}")
    return spec


def spec_for(name, custom_models=None, input_size=None):
    """The spec of a model the config names: a paper model ("mlp") or an entry of the config's
    `models:` section (`custom_models`, name -> {"class": "package.module:Class", "kwargs": {...}}),
    which gives a "module" spec (see `module_spec`). `input_size` overrides the input length (e.g.
    a dataset made with another final_seq_length). The spec is JSON-serialisable."""
    custom_models = custom_models or {}
    if isinstance(name, str) and name in custom_models:
        entry = custom_models[name] or {}
        spec = module_spec(entry.get("class"), entry.get("kwargs"), label=name,
                           key=f"models.{name}")
    elif isinstance(name, str) and name not in DEFAULTS:
        raise ValueError(f"model {name!r} is neither a paper model {sorted(DEFAULTS)} nor an "
                         f"entry of the config's 'models' section ({sorted(custom_models)})")
    else:
        spec = spec_of(name)
    if input_size is not None:
        spec["input_size"] = int(input_size)
    return spec


# ---------------------------------------------------------------------------------------------
# A user's own torch.nn.Module, named by import path ("package.module:Class"); mnist1d.models
# imports and builds it

MODULE_KEYS = {"name", "label", "class", "kwargs", "input_size", "output_size"}


def module_spec(class_path, kwargs=None, label=None, input_size=40, output_size=10, key="model"):
    """The spec of a user's module: {"name": "module", "label": ..., "class": "pkg.mod:Class",
    "kwargs": {...}, "input_size": N, "output_size": 10}. `key` names the config entry in errors."""
    if not isinstance(class_path, str) or class_path.count(":") != 1 or \
            not all(class_path.split(":")):
        raise ValueError(f"config key '{key}.class': {class_path!r} is not an import path "
                         f"'package.module:Class'")
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        raise ValueError(f"config key '{key}.kwargs': {kwargs!r} is not a mapping")
    return {"name": "module", "label": label or class_path.split(":")[1], "class": class_path,
            "kwargs": dict(kwargs), "input_size": int(input_size), "output_size": int(output_size)}


def is_module(spec):
    return isinstance(spec, dict) and spec.get("name") == "module"


def model_label(spec):
    """A short name of a spec: the config name of a user's module, else the paper model's name."""
    return (spec.get("label") or spec["class"]) if is_module(spec) else spec_of(spec)["name"]


def cnn_length(length):
    for kernel, stride, padding in CNN_LAYERS:
        length = (length + 2 * padding - kernel) // stride + 1
    return length


def pool_cnn_length(length, pooling):
    """Positions left after the two conv + pool stages (40 -> 40, 10, 10, 10, 10)."""
    stride, window = POOLINGS[pooling]
    for _ in range(2):
        length = ((length + 2 - 3) // stride + 1) // window
    return length


def count_parameters(spec):
    """Trainable parameters of a paper model's spec, counted from the layer shapes (the same
    numbers as the built nn.Module, tests/test_models.py). A user's module ("module" spec) can
    only be counted by building it: mnist1d.models.count_parameters (torch)."""
    if is_module(spec):
        raise ValueError(f"count_parameters: {model_label(spec)!r} is a user's module; count it "
                         f"by building it with mnist1d.models.count_parameters")
    s = spec_of(spec)
    n_in, n_out = s["input_size"], s["output_size"]
    if s["name"] == "logistic":
        return n_in * n_out + n_out
    if s["name"] == "mlp":
        h = s["hidden"]
        return n_in * h + h + h * h + h + h * n_out + n_out
    if s["name"] == "cnn":
        c = s["channels"]
        (k1, _, _), (k2, _, _), (k3, _, _) = CNN_LAYERS
        convs = k1 * c + c + k2 * c * c + c + k3 * c * c + c
        return convs + c * cnn_length(n_in) * n_out + n_out
    if s["name"] == "pool_cnn":
        c = s["channels"]
        return 3 * c + c + 3 * c * c + c + c * pool_cnn_length(n_in, s["pooling"]) * n_out + n_out
    h = s["hidden"]                                    # bidirectional GRU, one value per step
    gru = 2 * (3 * h + 3 * h * h + 3 * h + 3 * h)
    return gru + 2 * h * n_in * n_out + n_out


# ---------------------------------------------------------------------------------------------
# The training engine's protocol (mnist1d.train)

PROTOCOL_DEFAULTS = {
    "optimizer": "adam",      # adam | sgd
    "lr": 1e-2,
    "betas": (0.9, 0.999),    # adam
    "eps": 1e-8,              # adam
    "momentum": 0.0,          # sgd
    "weight_decay": 0.0,      # L2 added to the gradient, as torch.optim does
    "batch_size": 100,
    "steps": 6000,
    "eval_every": 250,
    "order": "in_order",      # in_order: step s uses examples (s * batch) mod n onwards;
                              # reshuffle: a new permutation per epoch and per seed
    "loss": "cross_entropy",  # cross_entropy | mse (mean squared error against one-hot targets)
}
LOSSES = ("cross_entropy", "mse")
HISTORY_COLUMNS = ["seed", "step", "train_loss", "test_loss", "train_acc", "test_acc", "batch_loss"]
EVAL_CHUNK = 1000             # examples per evaluation forward (bounds the GRU's memory)


def batches_per_epoch(n_train, batch_size):
    """Batches in one epoch over n_train examples (the last one smaller when it does not divide)."""
    return -(-int(n_train) // int(batch_size))


def epochs_to_steps(epochs, n_train, batch_size):
    """The engine's `steps` for `epochs` full epochs: it runs steps 0..steps, so epochs x batches
    per epoch updates take steps = that - 1. The one place where epochs become steps."""
    return int(epochs) * batches_per_epoch(n_train, batch_size) - 1


def adam_in_order(section):
    """The protocol of a config section with lr, batch_size, steps and eval_every, trained by
    Adam on batches in order (benchmark, pooling, the lottery search and analysis)."""
    return {"optimizer": "adam", "lr": section["lr"], "batch_size": section["batch_size"],
            "steps": section["steps"], "eval_every": section["eval_every"], "order": "in_order"}


def protocol_of(protocol=None):
    """The full protocol: PROTOCOL_DEFAULTS updated by `protocol`, checked."""
    p = dict(PROTOCOL_DEFAULTS)
    unknown = set(protocol or {}) - set(p)
    if unknown:
        raise ValueError(f"protocol: unknown keys {sorted(unknown)}; known: {sorted(p)}")
    p.update(protocol or {})
    if p["optimizer"] not in ("adam", "sgd"):
        raise ValueError(f"protocol 'optimizer': {p['optimizer']!r} is not adam or sgd")
    if p["loss"] not in LOSSES:
        raise ValueError(f"protocol 'loss': {p['loss']!r} is not one of {LOSSES}")
    if p["order"] not in ("in_order", "reshuffle"):
        raise ValueError(f"protocol 'order': {p['order']!r} is not in_order or reshuffle")
    for key in ("batch_size", "steps", "eval_every"):
        if int(p[key]) != p[key] or p[key] < (0 if key == "steps" else 1):
            raise ValueError(f"protocol {key!r}: {p[key]!r} must be a positive integer")
    if not p["lr"] > 0:
        raise ValueError(f"protocol 'lr': {p['lr']!r} must be positive")
    return p


# ---------------------------------------------------------------------------------------------
# Compiling

# The experiments whose training steps torch.compile can compile: the keys of the config's
# top-level `compile` when it is a mapping (README, "Compiling").
COMPILED_EXPERIMENTS = ("benchmark", "pooling", "double_descent", "lottery", "ssl", "metalearn",
                        "sweeps")


def compile_for(config, experiment):
    """Whether `experiment`'s jobs compile their training step, from the pipeline config's
    top-level `compile`: true or false (every experiment), or a mapping experiment -> true/false
    (an experiment it does not name is not compiled). A bad value raises ValueError naming the
    key (`compile` or `compile.EXPERIMENT`)."""
    if experiment not in COMPILED_EXPERIMENTS:
        raise ValueError(f"compile_for: {experiment!r} is not one of {COMPILED_EXPERIMENTS}")
    value = config.get("compile", False)
    if isinstance(value, bool):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"config key 'compile': {value!r} is neither true/false nor a mapping "
                         f"experiment -> true/false ({', '.join(COMPILED_EXPERIMENTS)})")
    unknown = sorted(set(value) - set(COMPILED_EXPERIMENTS), key=str)
    if unknown:
        raise ValueError(f"config key 'compile.{unknown[0]}': no such experiment; the mapping "
                         f"names some of {', '.join(COMPILED_EXPERIMENTS)}")
    chosen = value.get(experiment, False)
    if not isinstance(chosen, bool):
        raise ValueError(f"config key 'compile.{experiment}': {chosen!r} is not true or false")
    return chosen
