# MNIST-1D: every result of "Scaling down deep learning with MNIST-1D" as a target.
# `snakemake all` makes the whole paper (on every core: profiles/default), `snakemake
# results/double_descent.png` one figure and only what it needs; every target: docs/outputs.md.
# Presets write to their own folders: --config preset=quick makes results/quick/...


configfile: f"{workflow.basedir}/config.yaml"


# `snakemake --report results/report.html` after `all` (results/quick/report.html for quick): every figure with its protocol and the
# paper's finding (captions in workflow/report/).
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


rule all:
    default_target: True
    input:
        lambda wildcards: ALL_TARGETS,


include: "workflow/rules/data.smk"
include: "workflow/rules/benchmark.smk"
include: "workflow/rules/human.smk"
include: "workflow/rules/metalearn.smk"
include: "workflow/rules/pooling.smk"
include: "workflow/rules/tsne.smk"
include: "workflow/rules/ssl.smk"
include: "workflow/rules/lottery.smk"
include: "workflow/rules/double_descent.smk"
include: "workflow/rules/sweeps.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/paper.smk"
