# Self-supervised contrastive learning (SPEC section 9, the reference's notebook): all seeds as
# one ensemble, then per-layer kNN and linear probes before and after training; the figure.

SSL = config["ssl"]
if SSL["dataset"] not in config["datasets"]:
    raise ValueError(f"config key 'ssl.dataset': {SSL['dataset']!r} is not in 'datasets' "
                     f"({sorted(config['datasets'])})")

ALL_TARGETS.extend(["results/ssl/ssl.csv"] + figure("ssl"))


rule ssl_train:
    input:
        f"results/data/{SSL['dataset']}.npz",
    output:
        csv="results/ssl/ssl.csv",
        history="results/ssl/history.csv",
        embeddings="results/ssl/embeddings.npz",
    params:
        ssl=SSL,
        device=config.get("device", "auto"),
        compile=config.get("compile", False),
    threads: job_threads("ssl")
    resources:
        **job_resources("ssl", gpu=True),
    group:
        job_group("ssl")
    log:
        "results/logs/ssl/train.log",
    benchmark:
        "results/timing/ssl/train.tsv"
    script:
        "../scripts/ssl_train.py"


rule ssl_figure:
    input:
        csv="results/ssl/ssl.csv",
        embeddings="results/ssl/embeddings.npz",
    output:
        report_figure("ssl", "SSL"),
    params:
        tsne=config["tsne"],
    threads: job_threads("tsne")
    resources:
        **job_resources("tsne"),
    log:
        "results/logs/ssl/figure.log",
    benchmark:
        "results/timing/ssl/figure.tsv"
    script:
        "../scripts/ssl_figure.py"
