# t-SNE (paper Fig. "tsne"): MNIST-1D in input space (MNIST beside it when the
# user supplies a file; common.smk checks that it is readable) and the input-space kNN /
# logistic-regression baselines.
import mnist1d.experiments.tsne as tsne_lib

TSNE = config["tsne"]
require_datasets("tsne.dataset", TSNE["dataset"])

ALL_TARGETS.extend([result("tsne/baselines.csv")] + figure("tsne"))


rule tsne_baselines:
    input:
        dataset_file(TSNE["dataset"]),
    output:
        baselines=result("tsne/baselines.csv"),
    log:
        result("logs/tsne/baselines.log"),
    benchmark:
        result("timing/tsne/baselines.tsv")
    params:
        protocol=tsne_lib.protocol_from_config(config),
    script:
        "../scripts/tsne_baselines.py"


rule tsne_figure:
    input:
        data=dataset_file(TSNE["dataset"]),
        baselines=result("tsne/baselines.csv"),
        mnist=[TSNE["mnist_path"]] if TSNE.get("mnist_path") else [],
    output:
        report_figure("tsne", "t-SNE"),
    log:
        result("logs/tsne/figure.log"),
    benchmark:
        result("timing/tsne/figure.tsv")
    threads: job_threads("tsne")
    resources:
        **job_resources("tsne"),
    params:
        tsne=tsne_lib.figure_settings(config),
    script:
        "../scripts/tsne_figure.py"
