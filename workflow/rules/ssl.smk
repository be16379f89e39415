# Self-supervised contrastive learning (the reference notebook): all seeds as
# one ensemble, then per-layer kNN and linear probes before and after training; the figure.
import mnist1d.experiments.ssl as ssl_lib
import mnist1d.experiments.tsne as tsne_lib

SSL = config["ssl"]
require_datasets("ssl.dataset", SSL["dataset"])

SSL_VARIANTS = list(SSL.get("variants") or {})

ALL_TARGETS.extend([result("ssl/ssl.csv")] + figure("ssl"))
if SSL_VARIANTS:
    ALL_TARGETS.extend(
        [result("ssl/guillotine.csv"), result("ssl/guillotine.md")] + figure("ssl_guillotine")
    )


rule ssl_train:
    input:
        dataset_file(SSL["dataset"]),
    output:
        csv=result("ssl/ssl.csv"),
        history=result("ssl/history.csv"),
        embeddings=result("ssl/embeddings.npz"),
    log:
        result("logs/ssl/train.log"),
    benchmark:
        result("timing/ssl/train.tsv")
    priority: LONG_JOB_PRIORITY  # its t-SNE figure job runs after it: not last
    group:
        job_group("ssl")
    threads: job_threads("ssl")
    resources:
        **job_resources("ssl", gpu=True),
    params:
        protocol=ssl_lib.protocol_from_config(config),
        device=config["device"],
    script:
        "../scripts/ssl_train.py"


rule ssl_figure:
    input:
        csv=result("ssl/ssl.csv"),
        embeddings=result("ssl/embeddings.npz"),
    output:
        report_figure("ssl", "SSL"),
    log:
        result("logs/ssl/figure.log"),
    benchmark:
        result("timing/ssl/figure.tsv")
    threads: job_threads("tsne")
    resources:
        **job_resources("tsne"),
    params:
        tsne=tsne_lib.figure_settings(config),
    script:
        "../scripts/ssl_figure.py"


# The guillotine (the notebook's three models): every other projector of `ssl.variants` trained
# like the main model (all seeds as one ensemble), probed per layer; then all models side by side.
rule ssl_variant:
    input:
        dataset_file(SSL["dataset"]),
    output:
        csv=result("ssl/variant_{ssl_variant}.csv"),
        history=result("ssl/history_{ssl_variant}.csv"),
    log:
        result("logs/ssl/variant_{ssl_variant}.log"),
    benchmark:
        result("timing/ssl/variant_{ssl_variant}.tsv")
    wildcard_constraints:
        ssl_variant="|".join(SSL_VARIANTS) or "(?!)",
    group:
        job_group("ssl")
    threads: job_threads("ssl")
    resources:
        **job_resources("ssl", gpu=True),
    params:
        protocol=lambda wc: ssl_lib.variant_protocol(config, wc.ssl_variant),
        device=config["device"],
    script:
        "../scripts/ssl_variant.py"


rule ssl_guillotine:
    input:
        main=result("ssl/ssl.csv"),
        variants=expand(result("ssl/variant_{v}.csv"), v=SSL_VARIANTS),
    output:
        csv=result("ssl/guillotine.csv"),
        md=result("ssl/guillotine.md"),
        figure=report_figure("ssl_guillotine", "SSL"),
    log:
        result("logs/ssl/guillotine.log"),
    benchmark:
        result("timing/ssl/guillotine.tsv")
    threads: job_threads("figures")
    resources:
        **job_resources("figures"),
    params:
        models=[ssl_lib.MAIN_MODEL] + SSL_VARIANTS,
    script:
        "../scripts/ssl_guillotine.py"
