# Self-supervised contrastive learning (SPEC section 9, the reference's notebook): all seeds as
# one ensemble, then per-layer kNN and linear probes before and after training; the figure.
import mnist1d.experiments.ssl as ssl_lib
import mnist1d.experiments.tsne as tsne_lib

SSL = config["ssl"]
require_datasets("ssl.dataset", SSL["dataset"])

ALL_TARGETS.extend([result("ssl/ssl.csv")] + figure("ssl"))


rule ssl_train:
    input:
        dataset_file(SSL["dataset"]),
    output:
        csv=result("ssl/ssl.csv"),
        history=result("ssl/history.csv"),
        embeddings=result("ssl/embeddings.npz"),
    params:
        protocol=ssl_lib.protocol_from_config(config),
        device=config["device"],
    threads: job_threads("ssl")
    resources:
        **job_resources("ssl", gpu=True),
    group:
        job_group("ssl")
    log:
        result("logs/ssl/train.log"),
    benchmark:
        result("timing/ssl/train.tsv")
    script:
        "../scripts/ssl_train.py"


rule ssl_figure:
    input:
        csv=result("ssl/ssl.csv"),
        embeddings=result("ssl/embeddings.npz"),
    output:
        report_figure("ssl", "SSL"),
    params:
        tsne=tsne_lib.figure_settings(config),
    threads: job_threads("tsne")
    resources:
        **job_resources("tsne"),
    log:
        result("logs/ssl/figure.log"),
    benchmark:
        result("timing/ssl/figure.tsv")
    script:
        "../scripts/ssl_figure.py"
