"""Logging for pipeline jobs: to the job's Snakemake log file, flushed line by line."""
import logging
import sys


def job_logger(name, log_path=None):
    """A logger writing timestamped lines to `log_path` (and stderr), so `tail -f` follows a job."""
    logger = logging.getLogger(f"mnist1d.{name}")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    logger.propagate = False
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for handler in handlers:
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    return logger
