"""Atomic output: every result file is written under a temporary name, then renamed.

A writer holds an exclusive flock on its temporary file while it writes. A process killed in the
middle (SIGKILL, a node lost) cannot delete its temporary file, but the kernel drops its lock: the
next write of the same path (the rerun of the killed job) removes such unlocked leftovers, so a
crash leaves no `.NAME.XXXXXXXX.tmp` behind once the job has been rerun.
"""
import contextlib
import fcntl
import os
import re
import tempfile
from pathlib import Path


def _temporary_name(name):
    """The names tempfile.mkstemp gives `atomic_path`'s temporary files for a target `name`."""
    return re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp")


def remove_stale_temporaries(path):
    """Delete the temporary files of earlier writes of `path` whose writer is gone (not locked).

    Returns the paths removed. A temporary file that another live process is writing is locked
    and kept; so is one whose lock state cannot be read (a file system without locks).
    """
    path = Path(path)
    pattern, removed = _temporary_name(path.name), []
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return removed
    for name in names:
        if not pattern.fullmatch(name):
            continue
        candidate = path.parent / name
        try:
            fd = os.open(candidate, os.O_RDONLY)
        except OSError:
            continue                              # already gone, or not ours to read
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:                           # a live writer holds it, or no locks here
            os.close(fd)
            continue
        try:
            os.remove(candidate)
            removed.append(candidate)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success rename it to `path`, else delete it.

    Leftover temporary files of earlier, killed writes of `path` are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with contextlib.suppress(OSError):        # "being written" (see remove_stale_temporaries)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    finally:
        os.close(fd)


def write_csv(frame, path):
    """Write a pandas DataFrame as CSV, atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_text(text, path):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
