# t-SNE (SPEC section 8, paper Fig. "tsne"): MNIST-1D in input space (MNIST beside it when the
# user supplies a file) and the input-space kNN / logistic-regression baselines.

TSNE = config["tsne"]
if TSNE["dataset"] not in config["datasets"]:
    raise ValueError(f"config key 'tsne.dataset': {TSNE['dataset']!r} is not in 'datasets' "
                     f"({sorted(config['datasets'])})")
if TSNE.get("mnist_path") and not Path(TSNE["mnist_path"]).exists():
    raise ValueError(f"config key 'tsne.mnist_path': no file at {TSNE['mnist_path']!r}")

ALL_TARGETS.extend(["results/tsne/baselines.csv"] + figure("tsne"))


rule tsne_baselines:
    input:
        f"results/data/{TSNE['dataset']}.npz",
    output:
        "results/tsne/baselines.csv",
    params:
        knn_k=TSNE["knn_k"],
    log:
        "results/logs/tsne/baselines.log",
    benchmark:
        "results/timing/tsne/baselines.tsv"
    script:
        "../scripts/tsne_baselines.py"


rule tsne_figure:
    input:
        data=f"results/data/{TSNE['dataset']}.npz",
        baselines="results/tsne/baselines.csv",
        mnist=[TSNE["mnist_path"]] if TSNE.get("mnist_path") else [],
    output:
        report_figure("tsne", "t-SNE"),
    params:
        tsne=TSNE,
    threads: job_threads("tsne")
    resources:
        **job_resources("tsne"),
    log:
        "results/logs/tsne/figure.log",
    benchmark:
        "results/timing/tsne/figure.tsv"
    script:
        "../scripts/tsne_figure.py"
