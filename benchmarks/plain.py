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


def time_interleaved(runners, blocks, seconds):
    """ms per step of each runner ({label: run(start, n)}): warmed up, blocks sized to about
    `seconds` each, run block by block in turn (absolute times drift on shared machines; the
    ratios of interleaved blocks do not). Returns {label: [ms per step of each block]}."""
    import time

    n = {}
    for label, run in runners.items():
        t0 = time.perf_counter()
        run(0, 3)
        n[label] = max(3, int(seconds / ((time.perf_counter() - t0) / 3)))
    times = {label: [] for label in runners}
    for block in range(blocks):
        for label, run in runners.items():
            t0 = time.perf_counter()
            run(block * n[label], n[label])
            times[label].append((time.perf_counter() - t0) / n[label] * 1e3)
    return times
