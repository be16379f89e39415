"""The plain per-run PyTorch loop the benchmarks compare against (imported by bench_*.py)."""
import torch
import torch.nn.functional as F

from mnist1d import models


def adam_in_order_stepper(model, x, y, batch=100, lr=1e-2):
    """One nn.Module (a model name or spec) trained by torch.optim.Adam on in-order batches.

    Returns run(start, n), which takes the training steps start .. start + n - 1.
    """
    torch.manual_seed(0)
    net = models.build(model)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)

    def run(start, n):
        for s in range(start, start + n):
            i = (s * batch) % len(x)
            loss = F.cross_entropy(net(x[i:i + batch]), y[i:i + batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return run
