"""Where a job computes: the device it was given and how many CPU threads it may use.

A training script does

    set_threads(snakemake.threads)
    with job_device(snakemake.config["device"], snakemake.resources, job="dd_train") as device:
        ...train on `device`...

`job_device` gives CUDA only to a job that asked for a GPU (resources `gpu` > 0, see
mnist1d.pipeline.jobs). Snakemake's `gpu` resource limits how many GPU jobs run at once but does
not say which device each should use, so the job claims a slot of a GPU through a lock file per
slot: `gpu_slots` jobs (resources, from config.yaml `jobs.gpu_slots`) share one device at once
(the models are tiny: one job alone leaves a GPU mostly idle), spread over the visible devices.
Under SLURM the GPUs the job may see are already its own (CUDA_VISIBLE_DEVICES), so the claims
are only among the jobs of one allocation (a bundle). A job that loses its GPU (CUDA out of
memory, a CUDA error) stops with a message naming the job and the device; Snakemake's retry
starts it again and it resumes from its checkpoint where it has one.
"""
import contextlib
import errno
import fcntl
import os
import tempfile
import time
from pathlib import Path


DEVICES = ("auto", "cpu", "cuda")


def _resource(resources, key, default=None):
    if resources is None:
        return default
    if hasattr(resources, "get"):
        return resources.get(key, default)
    return getattr(resources, key, default)


def requested_gpus(resources):
    """GPUs a job asked for, from its Snakemake resources (`gpu`, or `gpu_count` with gres)."""
    if resources is None:
        return None
    return int(_resource(resources, "gpu", 0) or _resource(resources, "gpu_count", 0) or 0)


def gpu_slots(resources):
    """How many jobs share one GPU at once (resources `gpu_slots`; 1 where not given)."""
    return max(1, int(_resource(resources, "gpu_slots", 1) or 1))


def select_device(preference="auto", gpus=None):
    """torch.device for a config value: 'auto', 'cpu' or 'cuda'.

    'auto' is CUDA when a CUDA device is available and the job was given a GPU (`gpus` > 0, or
    `gpus` None: not known, as outside a pipeline job), the CPU otherwise.
    """
    import torch

    if preference not in DEVICES:
        raise ValueError(f"config key 'device': {preference!r} is not one of {DEVICES}")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config key 'device' is 'cuda' but no CUDA device is available")
    if preference == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    if preference == "auto" and gpus == 0:
        return torch.device("cpu")
    return torch.device("cuda")


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def set_threads(threads, torch_threads=True):
    """Use `threads` CPU threads (a job's Snakemake `threads`), so parallel jobs do not fight.

    Sets torch's intra-op threads and, where torch still allows it (before its first parallel
    work), its inter-op threads, and OMP / MKL / OpenBLAS_NUM_THREADS for child processes
    (Snakemake already sets them for the job itself, before NumPy's BLAS starts). A job that
    does not train (a t-SNE figure) passes torch_threads=False and does not import torch."""
    threads = max(1, int(threads))
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if torch_threads:
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:      # already set, or inter-op work already started: keep it
            pass
    return threads


def gpu_lock_dir(lock_dir=None):
    """Where GPU claims are kept: `lock_dir`, $MNIST1D_GPU_LOCK_DIR or the temp dir; inside a
    SLURM job a sub-directory of that job (its GPUs are its own)."""
    base = Path(lock_dir or os.environ.get("MNIST1D_GPU_LOCK_DIR")
                or Path(tempfile.gettempdir()) / "mnist1d-gpu-locks")
    if os.environ.get("SLURM_JOB_ID"):
        base = base / f"slurm-{os.environ['SLURM_JOB_ID']}"
    base.mkdir(parents=True, exist_ok=True)
    return base


def visible_gpu_ids(n_devices):
    """Stable names of the `n_devices` visible GPUs: CUDA_VISIBLE_DEVICES' entries, else 0..n-1."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    names = [v.strip() for v in visible.split(",") if v.strip()] if visible else []
    if len(names) < n_devices:
        names = [str(i) for i in range(n_devices)]
    return names[:n_devices]


def _try_lock(path):
    """An open file holding an exclusive flock on `path`, or None where another process holds it."""
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        handle.close()
        if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        return None
    return handle


@contextlib.contextmanager
def claim_gpu(n_devices=None, lock_dir=None, timeout=3600.0, poll=0.5, slots=1):
    """Hold a slot of one of the visible GPUs; yields the GPU's torch index.

    Each GPU has `slots` slots: up to that many jobs share it at once. A claim is an exclusive
    flock on lock_dir/gpu-<id>.lock (slot 0) or gpu-<id>.slot<k>.lock, dropped when the block
    ends or the process dies. Slot 0 of every GPU is taken before slot 1 of any, so jobs spread
    over the GPUs. Waits (up to `timeout` seconds) when every slot is held.
    """
    import torch

    n_devices = torch.cuda.device_count() if n_devices is None else int(n_devices)
    if n_devices < 1:
        raise RuntimeError("claim_gpu: no GPU is visible to this job")
    slots = max(1, int(slots))
    directory = gpu_lock_dir(lock_dir)
    names = visible_gpu_ids(n_devices)
    start = time.monotonic()
    while True:
        for slot in range(slots):
            for index, name in enumerate(names):
                path = directory / (f"gpu-{name}.lock" if slot == 0 else f"gpu-{name}.slot{slot}.lock")
                handle = _try_lock(path)
                if handle is None:
                    continue
                try:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(f"pid {os.getpid()}\n")
                    handle.flush()
                    yield index
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    handle.close()
                return
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"claim_gpu: all {n_devices} GPUs ({slots} slot{'s' * (slots > 1)} "
                               f"each) stayed held for {timeout:.0f} s (claims in {directory})")
        time.sleep(poll)


def lost_gpu(err):
    """Whether an exception says the job lost its GPU: CUDA out of memory or a CUDA error."""
    import torch

    if isinstance(err, torch.cuda.OutOfMemoryError):
        return True
    accelerator_error = getattr(torch, "AcceleratorError", None)
    if accelerator_error is not None and isinstance(err, accelerator_error):
        return True
    return isinstance(err, RuntimeError) and ("CUDA" in str(err) or "cuDNN" in str(err))


class GPULost(RuntimeError):
    """A job's GPU failed under it (out of memory, a CUDA error)."""


@contextlib.contextmanager
def flush_denormals():
    """Compute with denormal (subnormal) floats flushed to zero on the CPU for the block.

    A value below float32's smallest normal number (1.2e-38) takes the CPU's slow path, about
    100 times slower per operation. Networks trained to zero training loss (the lottery
    analysis, double descent) fill their gradients and Adam's averages with such values, and
    their steps slowed by up to 1.5x as training went on. Flushed, such a value becomes zero:
    an update it would have made is below float32's resolution of the weight it updates (the
    smoke and quick tables stay identical: benchmarks/README.md, speed_denormals.py).
    Set for the job's own thread, the one that computes in a one-thread job; switched off again
    afterwards."""
    import torch

    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        if supported:
            torch.set_flush_denormal(False)


@contextlib.contextmanager
def job_device(preference="auto", resources=None, lock_dir=None, timeout=3600.0, job=None):
    """The device of one pipeline job (see the module docstring); a GPU slot is held until the
    end. On the CPU, denormals are flushed to zero inside the block (`flush_denormals`). An error
    that says the GPU was lost becomes GPULost, naming `job` and the device."""
    import torch

    device = select_device(preference, requested_gpus(resources))
    if device.type != "cuda":
        with flush_denormals():
            yield device
        return
    with claim_gpu(lock_dir=lock_dir, timeout=timeout, slots=gpu_slots(resources)) as index:
        torch.cuda.set_device(index)
        where = torch.device("cuda", index)
        try:
            yield where
        except Exception as err:
            if not lost_gpu(err):
                raise
            name = visible_gpu_ids(index + 1)[index]
            raise GPULost(f"job {job or '(unnamed)'} lost its GPU {where} (CUDA_VISIBLE_DEVICES "
                          f"entry {name}): {type(err).__name__}: {err}. Finished outputs are kept; "
                          f"a retry (Snakemake's --retries, or the same command again) resumes "
                          f"from the job's checkpoint where it has one") from err
