# Metalearning a learning rate and an activation function.
import mnist1d.experiments.afunc_fit as afunc_fit_lib
import mnist1d.experiments.metalearn_afunc as afunc_lib
import mnist1d.experiments.metalearn_lr as lr_lib

ALL_TARGETS.extend(
    [result("metalearn/lr.csv"), result("metalearn/afunc_steps.csv")]
    + figure("metalearn_lr")
    + figure("metalearn_afunc")
    + [result("metalearn/afunc_fit.csv")]
    + figure("metalearn_afunc_fit")
)

for _part in ("lr", "afunc"):
    require_datasets(f"metalearn.{_part}.dataset", config["metalearn"][_part]["dataset"])


rule metalearn_lr:
    input:
        dataset_file(config["metalearn"]["lr"]["dataset"]),
    output:
        trials=result("metalearn/lr.csv"),
    log:
        result("logs/metalearn/lr.log"),
    benchmark:
        result("timing/metalearn/lr.tsv")
    threads: job_threads("metalearn")
    resources:
        **job_resources("metalearn", gpu=True),
    params:
        protocol=lr_lib.protocol_from_config(config),
        device=config["device"],
    script:
        "../scripts/metalearn_lr.py"


rule metalearn_afunc:
    input:
        dataset_file(config["metalearn"]["afunc"]["dataset"]),
    output:
        steps=result("metalearn/afunc_steps.csv"),
        function=result("metalearn/afunc_function.csv"),
        activations=result("metalearn/afunc_activations.csv"),
        curves=result("metalearn/afunc_curves.csv"),
    log:
        result("logs/metalearn/afunc.log"),
    benchmark:
        result("timing/metalearn/afunc.tsv")
    priority: LONG_JOB_PRIORITY
    threads: job_threads("metalearn")
    resources:
        **job_resources("metalearn", gpu=True),
    params:
        protocol=afunc_lib.protocol_from_config(config),
        device=config["device"],
        checkpoint=result("metalearn/checkpoints/afunc.pt"),
    script:
        "../scripts/metalearn_afunc.py"


rule metalearn_lr_figure:
    input:
        result("metalearn/lr.csv"),
    output:
        report_figure("metalearn_lr", "Metalearning"),
    log:
        result("logs/figures/metalearn_lr.log"),
    benchmark:
        result("timing/metalearn/figure_lr.tsv")
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    script:
        "../scripts/plot_metalearn.py"


rule metalearn_afunc_figure:
    input:
        steps=result("metalearn/afunc_steps.csv"),
        function=result("metalearn/afunc_function.csv"),
        activations=result("metalearn/afunc_activations.csv"),
    output:
        report_figure("metalearn_afunc", "Metalearning"),
    log:
        result("logs/figures/metalearn_afunc.log"),
    benchmark:
        result("timing/metalearn/figure_afunc.tsv")
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    params:
        figure=afunc_lib.figure_settings(config),
    script:
        "../scripts/plot_metalearn.py"


# The learned activation, fitted piecewise-linearly (the notebook's approximation) and trained by
# the same inner loop: a small job after the activation job, which it does not rerun.
rule metalearn_afunc_fit:
    input:
        dataset=dataset_file(config["metalearn"]["afunc"]["dataset"]),
        function=result("metalearn/afunc_function.csv"),
        activations=result("metalearn/afunc_activations.csv"),
    output:
        table=result("metalearn/afunc_fit.csv"),
        pieces=result("metalearn/afunc_fit_pieces.csv"),
        samples=result("metalearn/afunc_fit_samples.csv"),
        curves=result("metalearn/afunc_fit_curves.csv"),
    log:
        result("logs/metalearn/afunc_fit.log"),
    benchmark:
        result("timing/metalearn/afunc_fit.tsv")
    threads: job_threads("metalearn")
    resources:
        **job_resources("metalearn", gpu=True),
    params:
        protocol=afunc_fit_lib.protocol_from_config(config),
        device=config["device"],
    script:
        "../scripts/metalearn_afunc_fit.py"


rule metalearn_afunc_fit_figure:
    input:
        table=result("metalearn/afunc_fit.csv"),
        pieces=result("metalearn/afunc_fit_pieces.csv"),
        samples=result("metalearn/afunc_fit_samples.csv"),
    output:
        report_figure("metalearn_afunc_fit", "Metalearning"),
    log:
        result("logs/figures/metalearn_afunc_fit.log"),
    benchmark:
        result("timing/metalearn/figure_afunc_fit.tsv")
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    script:
        "../scripts/plot_afunc_fit.py"
