from mnist1d import plotting
from mnist1d.data import get_dataset_args
from mnist1d.store import load_dataset
from mnist1d.utils import ObjectView

args = ObjectView(get_dataset_args(as_dict=True) | dict(snakemake.params.args))
dataset = load_dataset(snakemake.input[0], args)
templates_png, templates_pdf, transforms_png, transforms_pdf, examples_png, examples_pdf = snakemake.output
plotting.save_figure(plotting.plot_templates(dataset["templates"]), templates_png, templates_pdf)
plotting.save_figure(plotting.plot_transforms(dataset["templates"], args), transforms_png, transforms_pdf)
plotting.save_figure(plotting.plot_examples(dataset), examples_png, examples_pdf)
