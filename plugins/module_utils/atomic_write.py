"""Replace a file so that a reader, or the next boot after a crash, sees the old or the new
content, never a mix and never an empty file.

Pure standard library: host modules (shipped by Ansiballz) and controller code both use it.
The temporary file has a name nobody can predict (``mkstemp``, created with ``O_EXCL``) in
the target's own directory, so a planted symlink is never followed, two writers never share
it and the rename stays on one file system. Data and directory entry reach the disk
(``fsync`` of the file, then of the directory) before the call returns.
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def _fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mode_under_umask():
    # A plain open() would create the file 0o666 less the umask; mkstemp creates it 0o600.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_file(path, mode=None, owner=None, like=None, chown=os.chown, before_replace=None):
    """Yield a binary handle whose content replaces ``path`` when the block ends without error.

    ``mode`` and ``owner`` (a ``(uid, gid)`` pair, applied with ``chown``) are set on the new
    file before it appears; without ``mode`` the file gets what ``open()`` would give it under
    the process's umask; ``like`` names an existing file whose mode and owner are copied
    instead. ``before_replace(temporary_path)`` runs on the finished file last; if it raises,
    or the block raises, the temporary file is removed and ``path`` is left as it was.
    """
    # A symlink at ``path`` is replaced, not written through: it may point anywhere.
    directory = os.path.dirname(os.path.abspath(path))
    if like is not None:
        info = os.stat(like)
        mode, owner = info.st_mode & 0o7777, (info.st_uid, info.st_gid)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # Owner first: chown clears setuid/setgid bits that a chmod before it had set.
        if owner is not None:
            chown(tmp, *owner)
        os.chmod(tmp, _mode_under_umask() if mode is None else mode)
        if before_replace is not None:
            before_replace(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def atomic_write(path, data, **options):
    """Replace ``path`` with ``data`` (text is written as UTF-8); options as for ``atomic_file``."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_file(path, **options) as handle:
        handle.write(data)
