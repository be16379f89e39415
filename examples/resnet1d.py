"""A small 1-D residual network for MNIST-1D: not one of the paper's models.

    models:
      resnet1d: {class: "examples.resnet1d:ResNet1D", kwargs: {channels: 24, blocks: 3}}

A strided stem convolution, `blocks` residual blocks (two 3-tap convolutions with ReLU and an
identity shortcut; every block after the first halves the length with a stride-2 convolution
and an average-pooled shortcut), then the features flattened into a linear head, as the paper's
CNN does (its position information matters on MNIST-1D). With 24 channels and 3 blocks that is
about 12 000 parameters on 40 inputs, a little over twice the paper's CNN.

No normalisation layer: BatchNorm keeps running statistics (buffers), which the generic
ensemble path cannot stack, so such a module would train seed by seed (see
docs/configuration.md, "Your own model"). The constructor takes `input_size` and `output_size`
because the pipeline passes them to any class whose signature has parameters of those names.
"""
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, channels, stride):
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv1d(channels, channels, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)

    def forward(self, x):
        h = self.conv2(self.conv1(x).relu())
        shortcut = x if self.stride == 1 else F.avg_pool1d(x, self.stride, ceil_mode=True)
        return (h + shortcut).relu()


def _halve(length):
    """The length after a stride-2 convolution (kernel 3, padding 1): ceil(length / 2)."""
    return (length - 1) // 2 + 1


class ResNet1D(nn.Module):
    def __init__(self, input_size=40, output_size=10, channels=24, blocks=3):
        super().__init__()
        if blocks < 1 or channels < 1:
            raise ValueError(f"ResNet1D: blocks ({blocks}) and channels ({channels}) must be >= 1")
        self.stem = nn.Conv1d(1, channels, 5, stride=2, padding=2)
        length = _halve(input_size)
        layers = []
        for i in range(blocks):
            stride = 1 if i == 0 else 2
            layers.append(ResidualBlock(channels, stride))
            length = length if stride == 1 else _halve(length)
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(channels * length, output_size)

    def forward(self, x):
        h = self.stem(x.view(-1, 1, x.shape[-1])).relu()
        h = self.blocks(h)
        return self.head(h.flatten(1))
