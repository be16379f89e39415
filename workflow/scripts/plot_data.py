from mnist1d import plotting
from mnist1d.data import get_dataset_args
from mnist1d.store import load_dataset
from mnist1d.utils import ObjectView

args = ObjectView(get_dataset_args(as_dict=True) | dict(snakemake.params.args))
dataset = load_dataset(snakemake.input[0], args)
out = snakemake.output
plotting.save_figure(plotting.plot_templates(dataset["templates"]), out.templates, out.templates_pdf)
plotting.save_figure(plotting.plot_transforms(dataset["templates"], args), out.transforms, out.transforms_pdf)
plotting.save_figure(plotting.plot_examples(dataset), out.examples, out.examples_pdf)
