"""Atomic writes: the written file has the mode an ordinary open() would give it."""
import os
import stat

import pytest

from mnist1d.io import atomic_path, current_umask, default_file_mode, write_text


@pytest.fixture
def umask():
    """Set the process umask for one test; the test's own value is restored afterwards."""
    before = os.umask(0o022)
    os.umask(before)
    yield lambda mask: os.umask(mask)
    os.umask(before)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_file_has_the_mode_of_open(tmp_path, umask, mask, expected):
    umask(mask)
    target = tmp_path / "out.txt"
    write_text("hello\n", target)
    assert mode_of(target) == expected
    plain = tmp_path / "plain.txt"
    plain.write_text("hello\n")                     # what open() gives, for comparison
    assert mode_of(plain) == expected


def test_mode_is_set_while_writing_and_kept_by_writers_that_reopen(tmp_path, umask):
    umask(0o022)
    with atomic_path(tmp_path / "a.csv") as tmp:
        assert mode_of(tmp) == 0o644
        with open(tmp, "w") as f:                   # writers reopen the temporary path
            f.write("x\n")
    assert mode_of(tmp_path / "a.csv") == 0o644


def test_umask_is_read_without_changing_it(umask):
    umask(0o027)
    assert current_umask() == 0o027
    assert default_file_mode() == 0o640
    assert os.umask(0o027) == 0o027                 # still what the test set


def test_umask_fallback_without_proc(monkeypatch, umask):
    """Where /proc/self/status cannot be read, the umask is read by setting and restoring it."""
    umask(0o007)
    real_open = open

    def no_proc(path, *args, **kwargs):
        if str(path) == "/proc/self/status":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_proc)
    assert current_umask() == 0o007
    monkeypatch.undo()
    assert os.umask(0o007) == 0o007
