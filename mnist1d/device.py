"""Where a job computes: the device it was given and how many CPU threads it may use."""
import os

import torch

DEVICES = ("auto", "cpu", "cuda")


def select_device(preference="auto"):
    """torch.device for a config value: 'auto' (CUDA if available), 'cpu' or 'cuda'."""
    if preference not in DEVICES:
        raise ValueError(f"config key 'device': {preference!r} is not one of {DEVICES}")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config key 'device' is 'cuda' but no CUDA device is available")
    if preference == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def set_threads(threads):
    """Use `threads` CPU threads (a job's Snakemake `threads`), so parallel jobs do not fight."""
    threads = max(1, int(threads))
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    return threads
