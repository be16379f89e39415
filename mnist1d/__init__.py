"""MNIST-1D: a small, procedurally generated 1-D classification dataset, and its experiments."""
from .data import get_dataset, get_dataset_args, get_templates, make_dataset
from .transform import transform
from .utils import ObjectView, from_pickle, plot_signals, set_seed, to_pickle

__version__ = "0.1.0"
