# Protocol sensitivity (config.yaml `sensitivity:`;
# mnist1d/experiments/sensitivity.py): every choice reruns its experiment's job, through the same
# script as the main job, with one config key changed, under results/sensitivity/CHOICE/; then the
# findings of both settings side by side. `snakemake sensitivity` makes it; it is not part of
# `all` (at the paper protocol it costs several lottery searches).
import mnist1d.experiments.sensitivity as sensitivity_lib

try:
    sensitivity_lib.check(config)
except ValueError as e:
    raise WorkflowError(str(e)) from None
for _choice in sensitivity_lib.names(config):
    _alt = sensitivity_lib.alternative_config(config, _choice)
    try:
        validate_config(_alt)
    except WorkflowError as e:
        raise WorkflowError(
            f"sensitivity choice {_choice!r}: its alternative configuration is " f"invalid: {e}"
        ) from None

OUTSIDE_ALL_RULES.update(
    {
        "sensitivity_lottery_search",
        "sensitivity_lottery_analysis_part",
        "sensitivity_lottery_analysis",
        "sensitivity_metalearn_afunc",
        "sensitivity_ssl",
        "sensitivity_table",
    }
)
# The outputs of each experiment's job, relative to the results folder (main run) or to
# sensitivity/CHOICE/ (alternative run): what the findings read.
SENSITIVITY_FILES = {
    "lottery_search": {"history": "lottery/search_history.csv"},
    "lottery_analysis": {"summary": "lottery/analysis.csv"},
    "metalearn_afunc": {
        "steps": "metalearn/afunc_steps.csv",
        "activations": "metalearn/afunc_activations.csv",
    },
    "ssl": {"csv": "ssl/ssl.csv"},
}


def sensitivity_choice_pattern(experiment):
    return "|".join(sensitivity_lib.names(config, experiment)) or "(?!)"


def sensitivity_alt(wildcards):
    return sensitivity_lib.alternative_config(config, wildcards.choice)


def sensitivity_runs():
    """choice -> {paper: files, alternative: files, random_from: main search or None}."""
    runs = {}
    for name in sensitivity_lib.names(config):
        c = sensitivity_lib.choice(config, name)
        files = SENSITIVITY_FILES[c["experiment"]]
        runs[name] = {
            "facts": sensitivity_lib.describe(config, name),
            "paper": {k: result(v) for k, v in files.items()},
            "alternative": {k: result(f"sensitivity/{name}/{v}") for k, v in files.items()},
            "random_from": result("lottery/search_history.csv") if "methods" in c else None,
        }
    return runs


def sensitivity_inputs(wildcards):
    paths = []
    for run in sensitivity_runs().values():
        paths += [*run["paper"].values(), *run["alternative"].values()]
        paths += [run["random_from"]] if run["random_from"] else []
    return sorted(set(paths))


rule sensitivity:
    input:
        result("protocol_sensitivity.csv"),
        result("protocol_sensitivity.md"),
        figure("protocol_sensitivity"),


# The lottery's alternative runs use the main lottery jobs' scripts: the search as one segment
# of every round (its trials and methods as one ensemble), the analysis as one job per (trial,
# network), merged.
def sensitivity_search_protocol(wildcards):
    protocol = sensitivity_lib.protocol(config, wildcards.choice)
    return {**protocol, "first_round": 0, "stop_round": protocol["rounds"]}


def sensitivity_analysis_parts(wildcards):
    trials = sensitivity_lib.protocol(config, wildcards.choice)["trials"]
    return [f"{t}_{n}" for t, n in lottery_lib.analysis_parts(trials)]


def sensitivity_part_protocol(wildcards):
    trial, network = wildcards.part.split("_", 1)
    return {
        **sensitivity_lib.protocol(config, wildcards.choice),
        "part": [int(trial), network],
        "grid": lottery_lib.sparsity_grid(LOT["search"]["rounds"]).tolist(),
    }


rule sensitivity_lottery_search:
    input:
        data=lambda wc: dataset_file(sensitivity_alt(wc)["lottery"]["search"]["dataset"]),
    output:
        history=result("sensitivity/{choice}/lottery/search_history.csv"),
        masks=result("sensitivity/{choice}/lottery/masks.npz"),
    log:
        result("logs/sensitivity/{choice}/lottery_search.log"),
    benchmark:
        result("timing/sensitivity/{choice}_lottery_search.tsv")
    wildcard_constraints:
        choice=sensitivity_choice_pattern("lottery_search"),
    threads: job_threads("lottery")
    resources:
        **job_resources("lottery", gpu=True),
    params:
        protocol=sensitivity_search_protocol,
        checkpoint=lambda wc: result(f"sensitivity/{wc.choice}/lottery/checkpoint"),
        device=config["device"],
    script:
        "../scripts/lottery_search_segment.py"


# An alternative analysis setting reuses the main search's masks.
rule sensitivity_lottery_analysis_part:
    input:
        data=lambda wc: dataset_file(sensitivity_alt(wc)["lottery"]["analysis"]["dataset"]),
        masks=result("lottery/masks.npz"),
    output:
        history=result("sensitivity/{choice}/lottery/analysis/{part}.csv"),
    log:
        result("logs/sensitivity/{choice}/lottery_analysis_{part}.log"),
    benchmark:
        result("timing/sensitivity/{choice}_lottery_analysis_{part}.tsv")
    wildcard_constraints:
        choice=sensitivity_choice_pattern("lottery_analysis"),
        part=r"\d+_(" + "|".join(lottery_lib.NETWORKS) + ")",
    threads: job_threads("lottery")
    resources:
        **job_resources("lottery", gpu=True),
    params:
        protocol=sensitivity_part_protocol,
        device=config["device"],
    script:
        "../scripts/lottery_analysis_part.py"


rule sensitivity_lottery_analysis:
    input:
        histories=lambda wc: [
            result(f"sensitivity/{wc.choice}/lottery/analysis/{part}.csv")
            for part in sensitivity_analysis_parts(wc)
        ],
        masks=result("lottery/masks.npz"),
    output:
        history=result("sensitivity/{choice}/lottery/analysis_history.csv"),
        summary=result("sensitivity/{choice}/lottery/analysis.csv"),
        adjacency=result("sensitivity/{choice}/lottery/adjacency.csv"),
    log:
        result("logs/sensitivity/{choice}/lottery_analysis.log"),
    benchmark:
        result("timing/sensitivity/{choice}_lottery_analysis.tsv")
    wildcard_constraints:
        choice=sensitivity_choice_pattern("lottery_analysis"),
    params:
        protocol=lambda wc: sensitivity_lib.protocol(config, wc.choice),
    script:
        "../scripts/lottery_analysis_merge.py"


rule sensitivity_metalearn_afunc:
    input:
        lambda wc: dataset_file(sensitivity_alt(wc)["metalearn"]["afunc"]["dataset"]),
    output:
        steps=result("sensitivity/{choice}/metalearn/afunc_steps.csv"),
        function=result("sensitivity/{choice}/metalearn/afunc_function.csv"),
        activations=result("sensitivity/{choice}/metalearn/afunc_activations.csv"),
        curves=result("sensitivity/{choice}/metalearn/afunc_curves.csv"),
    log:
        result("logs/sensitivity/{choice}/metalearn_afunc.log"),
    benchmark:
        result("timing/sensitivity/{choice}_metalearn_afunc.tsv")
    wildcard_constraints:
        choice=sensitivity_choice_pattern("metalearn_afunc"),
    threads: job_threads("metalearn")
    resources:
        **job_resources("metalearn", gpu=True),
    params:
        protocol=lambda wc: sensitivity_lib.protocol(config, wc.choice),
        device=config["device"],
        checkpoint=lambda wc: result(f"sensitivity/{wc.choice}/metalearn/checkpoints/afunc.pt"),
    script:
        "../scripts/metalearn_afunc.py"


rule sensitivity_ssl:
    input:
        lambda wc: dataset_file(sensitivity_alt(wc)["ssl"]["dataset"]),
    output:
        csv=result("sensitivity/{choice}/ssl/ssl.csv"),
        history=result("sensitivity/{choice}/ssl/history.csv"),
        embeddings=result("sensitivity/{choice}/ssl/embeddings.npz"),
    log:
        result("logs/sensitivity/{choice}/ssl.log"),
    benchmark:
        result("timing/sensitivity/{choice}_ssl.tsv")
    wildcard_constraints:
        choice=sensitivity_choice_pattern("ssl"),
    group:
        job_group("ssl")
    threads: job_threads("ssl")
    resources:
        **job_resources("ssl", gpu=True),
    params:
        protocol=lambda wc: sensitivity_lib.protocol(config, wc.choice),
        device=config["device"],
    script:
        "../scripts/ssl_train.py"


rule sensitivity_table:
    input:
        sensitivity_inputs,
    output:
        csv=result("protocol_sensitivity.csv"),
        md=result("protocol_sensitivity.md"),
        figure=report_figure("protocol_sensitivity", "Protocol sensitivity"),
    log:
        result("logs/sensitivity/table.log"),
    benchmark:
        result("timing/sensitivity/table.tsv")
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    params:
        runs=sensitivity_runs(),
        preset=config["preset"],
    script:
        "../scripts/sensitivity_table.py"
