"""An MLP with batch normalisation: a user's own model that trains seed by seed.

    models:
      bn_mlp: {class: "examples.batchnorm_mlp:BatchNormMLP", kwargs: {hidden: 32}}

Linear, BatchNorm1d, ReLU, twice, then a linear head. BatchNorm keeps running statistics
(buffers that its forward updates in place in train mode), which the generic ensemble path
(torch.func.functional_call under torch.vmap, mnist1d.models.ensemble_support) cannot stack: the
pipeline trains such a module with the plain per-seed loop instead, one seed after another, and
the job's log says why (docs/configuration.md, "Your own model"). benchmarks/gpu_check.py trains
it to check that fallback on the GPU.
"""
from torch import nn


class BatchNormMLP(nn.Module):
    def __init__(self, input_size=40, output_size=10, hidden=32):
        super().__init__()
        if hidden < 1:
            raise ValueError(f"BatchNormMLP: hidden ({hidden}) must be >= 1")
        self.net = nn.Sequential(
            nn.Linear(input_size, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, output_size))

    def forward(self, x):
        return self.net(x)
