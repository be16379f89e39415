# Sweeps of the generator's knobs (config.yaml `sweeps:`; mnist1d/experiments/sweeps.py): per
# sweep and value a dataset, per value and chunk of seeds one training job (every model, each
# model's seeds as one ensemble), then the sweep's table and figure. `snakemake sweeps` makes all
# of them; they are not part of `all` (the paper).
import mnist1d.experiments.sweeps as sweeps_lib
from mnist1d.data import get_dataset_args

try:
    sweeps_lib.check(config)
except ValueError as e:
    raise WorkflowError(str(e)) from None

SWEEPS = sweeps_lib.names(config)
OUTSIDE_ALL_RULES.update({"sweep_dataset", "sweep_train", "sweep_table", "sweep_figure"})
SWEEP_TARGETS = []
for _name in SWEEPS:
    SWEEP_TARGETS.append(result(f"sweeps/{_name}.csv"))
    SWEEP_TARGETS.extend(figure(f"sweeps/{_name}"))


wildcard_constraints:
    sweep=sweeps_lib.wildcard_pattern(SWEEPS),
    sweep_value=sweeps_lib.wildcard_pattern(sweeps_lib.all_value_texts(config)),
    sweep_chunk=r"(_seeds?\d+(-\d+)?)?",  # experiments.seed_chunks tags: "", _seed3, _seeds0-2


def sweep_runs(wildcards):
    return expand(
        result("sweeps/runs/{sweep}/{value}/finals{chunk}.csv"),
        sweep=wildcards.sweep,
        value=sweeps_lib.value_texts(config, wildcards.sweep),
        chunk=sweeps_lib.chunks(config, wildcards.sweep),
    )


rule sweeps:
    input:
        SWEEP_TARGETS,


rule sweep_dataset:
    output:
        result("sweeps/data/{sweep}/{sweep_value}.npz"),
    log:
        result("logs/sweeps/data/{sweep}/{sweep_value}.log"),
    benchmark:
        result("timing/sweeps/data_{sweep}_{sweep_value}.tsv")
    group:
        job_group("data")
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    params:
        args=lambda wildcards: sweeps_lib.dataset_args(
            config, wildcards.sweep, wildcards.sweep_value
        ),
    script:
        "../scripts/make_dataset.py"


rule sweep_train:
    input:
        result("sweeps/data/{sweep}/{sweep_value}.npz"),
    output:
        finals=result("sweeps/runs/{sweep}/{sweep_value}/finals{sweep_chunk}.csv"),
    log:
        result("logs/sweeps/{sweep}/{sweep_value}{sweep_chunk}.log"),
    benchmark:
        result("timing/sweeps/{sweep}_{sweep_value}{sweep_chunk}.tsv")
    group:
        job_group("sweeps")
    threads: job_threads("sweeps")
    resources:
        **job_resources("sweeps", gpu=True),
    params:
        protocol=lambda wildcards: sweeps_lib.protocol_from_config(
            config, wildcards.sweep, wildcards.sweep_value, wildcards.sweep_chunk
        ),
        device=config["device"],
    script:
        "../scripts/sweep_train.py"


rule sweep_table:
    input:
        sweep_runs,
    output:
        csv=result("sweeps/{sweep}.csv"),
        md=result("sweeps/{sweep}.md"),
    log:
        result("logs/sweeps/{sweep}_table.log"),
    benchmark:
        result("timing/sweeps/{sweep}_table.tsv")
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    params:
        models=lambda wildcards: sweeps_lib.settings(config, wildcards.sweep)["models"],
    script:
        "../scripts/sweep_table.py"


rule sweep_figure:
    input:
        result("sweeps/{sweep}.csv"),
    output:
        report(
            result("sweeps/{sweep}.png"),
            caption="../report/sweep.rst",
            category="Sweeps",
            subcategory="{sweep}",
        ),
        result("sweeps/{sweep}.pdf"),
    log:
        result("logs/sweeps/{sweep}_figure.log"),
    benchmark:
        result("timing/sweeps/{sweep}_figure.tsv")
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    params:
        log_x=lambda wildcards: bool(sweeps_lib.settings(config, wildcards.sweep)["log_x"]),
        default=lambda wildcards: get_dataset_args(as_dict=True)[
            sweeps_lib.settings(config, wildcards.sweep)["arg"]
        ],
    script:
        "../scripts/sweep_figure.py"
