# Datasets (results/data/{name}.npz, one per entry of config["datasets"]) and the data figures.

ALL_TARGETS.extend(expand("results/data/{dataset}.npz", dataset=config["datasets"]))
ALL_TARGETS.extend(figure("templates") + figure("transforms") + figure("examples"))


wildcard_constraints:
    dataset="|".join(config["datasets"]),


rule dataset:
    output:
        "results/data/{dataset}.npz",
    params:
        args=lambda wildcards: config["datasets"][wildcards.dataset],
    log:
        "results/logs/data/{dataset}.log",
    benchmark:
        "results/timing/data/{dataset}.tsv"
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    group:
        job_group("data")
    script:
        "../scripts/make_dataset.py"


rule data_figures:
    input:
        "results/data/default.npz",
    output:
        templates=report(figure("templates")[0], caption="../report/templates.rst", category="Data"),
        templates_pdf=figure("templates")[1],
        transforms=report(figure("transforms")[0], caption="../report/transforms.rst", category="Data"),
        transforms_pdf=figure("transforms")[1],
        examples=report(figure("examples")[0], caption="../report/examples.rst", category="Data"),
        examples_pdf=figure("examples")[1],
    params:
        args=config["datasets"]["default"],
    log:
        "results/logs/figures/data.log",
    benchmark:
        "results/timing/data/figures.tsv"
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    script:
        "../scripts/plot_data.py"
