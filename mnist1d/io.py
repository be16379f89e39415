"""Atomic output: every result file is written under a temporary name, then renamed.

A writer holds an exclusive flock on its temporary file while it writes. A process killed in the
middle (SIGKILL, a node lost) cannot delete its temporary file, but the kernel drops its lock: the
next write of the same path (the rerun of the killed job) removes such unlocked leftovers, so a
crash leaves no `.NAME.XXXXXXXX.tmp` behind once the job has been rerun.

tempfile.mkstemp makes its files private (mode 0600); the written file gets the mode that an
ordinary open() would give it, 0666 less the process umask (0644 under umask 022).
"""
import contextlib
import fcntl
import os
import re
import tempfile
import threading
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def current_umask():
    """The process umask, read without changing it where Linux shows it (/proc/self/status).

    Elsewhere it is read by setting and restoring it, under a lock so that two threads of this
    process doing so cannot leave each other's value behind.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def default_file_mode():
    """The mode open() gives a new file: 0666 less the umask."""
    return 0o666 & ~current_umask()


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

    Leftover temporary files of earlier, killed writes of `path` are removed first. The file has
    the mode open() would give it (default_file_mode), not mkstemp's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with contextlib.suppress(OSError):        # a file system without modes keeps its own
        os.fchmod(fd, default_file_mode())
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
