# Metalearning a learning rate (SPEC 5) and an activation function (SPEC 6).

ALL_TARGETS.extend(
    ["results/metalearn/lr.csv", "results/metalearn/afunc_steps.csv"]
    + figure("metalearn_lr")
    + figure("metalearn_afunc")
)

for _part in ("lr", "afunc"):
    if config["metalearn"][_part]["dataset"] not in config["datasets"]:
        raise ValueError(
            f"config key 'metalearn.{_part}.dataset': "
            f"{config['metalearn'][_part]['dataset']!r} is not one of config['datasets']"
        )


rule metalearn_lr:
    input:
        f"results/data/{config['metalearn']['lr']['dataset']}.npz",
    output:
        "results/metalearn/lr.csv",
    params:
        cfg=config["metalearn"]["lr"],
        device=config.get("device", "auto"),
    threads: job_threads("metalearn")
    resources:
        **job_resources("metalearn", gpu=True),
    log:
        "results/logs/metalearn/lr.log",
    benchmark:
        "results/timing/metalearn/lr.tsv"
    script:
        "../scripts/metalearn_lr.py"


rule metalearn_afunc:
    input:
        f"results/data/{config['metalearn']['afunc']['dataset']}.npz",
    output:
        steps="results/metalearn/afunc_steps.csv",
        function="results/metalearn/afunc_function.csv",
        activations="results/metalearn/afunc_activations.csv",
        curves="results/metalearn/afunc_curves.csv",
    params:
        cfg=config["metalearn"]["afunc"],
        device=config.get("device", "auto"),
        compile=config.get("compile", False),
        checkpoint="results/metalearn/checkpoints/afunc.pt",
    threads: job_threads("metalearn")
    resources:
        **job_resources("metalearn", gpu=True),
    log:
        "results/logs/metalearn/afunc.log",
    benchmark:
        "results/timing/metalearn/afunc.tsv"
    script:
        "../scripts/metalearn_afunc.py"


rule metalearn_lr_figure:
    input:
        "results/metalearn/lr.csv",
    output:
        report_figure("metalearn_lr", "Metalearning"),
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    log:
        "results/logs/figures/metalearn_lr.log",
    benchmark:
        "results/timing/metalearn/figure_lr.tsv"
    script:
        "../scripts/plot_metalearn.py"


rule metalearn_afunc_figure:
    input:
        steps="results/metalearn/afunc_steps.csv",
        function="results/metalearn/afunc_function.csv",
        activations="results/metalearn/afunc_activations.csv",
    output:
        report_figure("metalearn_afunc", "Metalearning"),
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    log:
        "results/logs/figures/metalearn_afunc.log",
    benchmark:
        "results/timing/metalearn/figure_afunc.tsv"
    script:
        "../scripts/plot_metalearn.py"
