# Datasets (RESULTS/data/{name}.npz, one per entry of config["datasets"]) and the data figures.

ALL_TARGETS.extend(dataset_file(name) for name in config["datasets"])
ALL_TARGETS.extend(figure("templates") + figure("transforms") + figure("examples"))


wildcard_constraints:
    dataset="|".join(config["datasets"]),


rule dataset:
    output:
        result("data/{dataset}.npz"),
    log:
        result("logs/data/{dataset}.log"),
    benchmark:
        result("timing/data/{dataset}.tsv")
    priority: DATA_PRIORITY
    group:
        job_group("data")
    threads: job_threads("data")
    resources:
        **job_resources("data"),
    params:
        args=lambda wildcards: config["datasets"][wildcards.dataset],
    script:
        "../scripts/make_dataset.py"


rule data_figures:
    input:
        dataset_file("default"),
    output:
        templates=report_figure("templates", "Data")[0],
        templates_pdf=figure("templates")[1],
        transforms=report_figure("transforms", "Data")[0],
        transforms_pdf=figure("transforms")[1],
        examples=report_figure("examples", "Data")[0],
        examples_pdf=figure("examples")[1],
    log:
        result("logs/figures/data.log"),
    benchmark:
        result("timing/data/figures.tsv")
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    params:
        args=config["datasets"]["default"],
    script:
        "../scripts/plot_data.py"
