"""MNIST-1D as a PyTorch Dataset, for use with a standard DataLoader.

    from torch.utils.data import DataLoader
    from mnist1d.dataset import MNIST1D

    train = MNIST1D("results/data/default.npz", train=True)    # or a dataset dict, or a .pkl
    loader = DataLoader(train, batch_size=100, shuffle=True)
    for x, y in loader:                                         # x (100, 40) float32, y (100,) int64
        ...
"""
from mnist1d._extras import require
require("torch", extra="torch", by=__name__)

import numpy as np
import torch

from mnist1d.store import load_dataset


class MNIST1D(torch.utils.data.Dataset):
    """The train or test split of an MNIST-1D dataset: items (x, y), x of shape (40,)
    (or (1, 40) with channel=True, the layout of a Conv1d), y an int64 label.

    `source`: a dataset dict (make_dataset / get_dataset), a path to a `.npz` made by the
    pipeline or a `.pkl` of the original package, or None for the frozen paper dataset
    generated offline (mnist1d.data.get_dataset, cached at `cache`).
    `transform` / `target_transform` are applied to each item, as in torchvision.
    """

    def __init__(self, source=None, train=True, channel=False, transform=None,
                 target_transform=None, dtype=torch.float32, cache="./mnist1d_data.pkl"):
        if source is None:
            from mnist1d.data import get_dataset, get_dataset_args
            source = get_dataset(get_dataset_args(), path=cache, download=True)
        elif not isinstance(source, dict):
            source = load_dataset(source)
        x, y = (source["x"], source["y"]) if train else (source["x_test"], source["y_test"])
        self.x = torch.as_tensor(np.asarray(x), dtype=dtype)
        if channel:
            self.x = self.x.unsqueeze(1)
        self.y = torch.as_tensor(np.asarray(y), dtype=torch.long)
        self.t = torch.as_tensor(np.asarray(source["t"]), dtype=dtype)
        self.transform, self.target_transform = transform, target_transform
        self.classes = list(range(10))

    def __len__(self):
        return len(self.y)

    def __getitem__(self, index):
        x, y = self.x[index], self.y[index]
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y
