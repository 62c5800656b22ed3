# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One customer's audit trail as a JSON Lines file, appended to under an exclusive lock."""

from __future__ import annotations

import errno
import fcntl
import os
import time

from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_redaction import Redactor
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import (
    VerificationReport,
    verify_trail,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import (
    ALG_HMAC_SHA256,
    ALG_SHA256,
    GENESIS_HASH,
    AppendedRecord,
    AuditError,
    chain_records,
    check_append_allowed,
    parse_chain_prefix,
    prepare_records,
)

_TAIL_CHUNK = 8192


def _read_last_line(fd: int, size: int) -> bytes:
    """The last line of the trail, read backwards so large trails stay cheap."""
    end = size
    collected = b""
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        chunk = os.pread(fd, end - start, start)
        collected = chunk + collected
        # The final byte is the trailing newline; search before it.
        cut = collected.rfind(b"\n", 0, len(collected) - 1)
        if cut >= 0:
            return collected[cut + 1 :]
        end = start
    return collected


class AuditTrail:
    """One customer's trail file, appended to under an exclusive lock.

    ``secrets`` and ``secret_keys`` feed a Redactor applied to every record
    before it is hashed, so a secret never reaches the disk.
    """

    def __init__(
        self,
        path: str,
        key: bytes | None = None,
        secrets=(),
        secret_keys=(),
        lock_timeout: float = 30.0,
        redactor: Redactor | None = None,
    ):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.lock_path = self.path + ".lock"
        self._key = key
        self._redactor = redactor or Redactor(secrets, secret_keys)
        self._lock_timeout = lock_timeout
        # (size, hash, seq, alg) after our own last write: if the file still
        # has that size nobody else appended and the tail need not be re-read.
        self._known_tail: tuple[int, str, int, str] | None = None

    def append(self, record: dict) -> AppendedRecord:
        return self.append_many([record])[0]

    def append_many(self, records, redactor: Redactor | None = None) -> list[AppendedRecord]:
        """Append records atomically under one lock and one fsync.

        ``redactor`` replaces the trail's own for these records (the callback
        learns more secrets as the run goes on). Raises AuditError when the
        records cannot be made durable; the file is then cut back to its
        previous length so no partial record remains.
        """
        prepared = prepare_records(records, redactor or self._redactor)
        if not prepared:
            return []
        self._ensure_directory()
        with self._exclusive_lock():
            return self._append_locked(prepared)

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last record; (0, GENESIS_HASH) for an empty trail."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return 0, GENESIS_HASH
        except OSError as exc:
            raise AuditError(f"cannot read audit trail {self.path}: {exc.strerror}") from exc
        try:
            _size, digest, seq, _alg = self._read_tail(fd)
            return seq, digest
        finally:
            os.close(fd)

    # The store interface shared with the PostgreSQL backend (audit_store).

    backend = "file"

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def read_lines(self, contains: str | None = None):
        """The trail's lines in order, as bytes; only those holding ``contains`` if given."""
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed when the generator ends
        except FileNotFoundError:
            return
        except OSError as exc:
            raise AuditError(f"cannot read audit trail {self.path}: {exc.strerror}") from exc
        with handle:
            if contains is None:
                yield from handle
            else:
                needle = contains.encode("utf-8")
                yield from (line for line in handle if needle in line)

    def verify(
        self, key: bytes | None = None, head: str | None = None, deep: bool = False
    ) -> VerificationReport:
        return verify_trail(self.path, key=key, head=head, deep=deep)

    def close(self) -> None:
        """Nothing to release: every append opens and closes the file."""

    def _ensure_directory(self) -> None:
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, mode=0o750, exist_ok=True)
        except OSError as exc:
            raise AuditError(
                f"cannot create audit directory {directory}: {exc.strerror or exc}"
            ) from exc

    def _exclusive_lock(self):
        return _FileLock(self.lock_path, self._lock_timeout)

    def _read_tail(self, fd: int) -> tuple[int, str, int, str]:
        size = os.fstat(fd).st_size
        if self._known_tail is not None and self._known_tail[0] == size:
            return self._known_tail
        if size == 0:
            return 0, GENESIS_HASH, 0, ""
        last_line = _read_last_line(fd, size)
        parsed = parse_chain_prefix(last_line)
        if parsed is None:
            raise AuditError(
                f"the last record of {self.path} is incomplete or damaged; "
                "verify the trail before appending to it"
            )
        digest, _prev, seq, alg = parsed
        return size, digest, seq, alg

    def _append_locked(self, prepared: list[dict]) -> list[AppendedRecord]:
        created = not os.path.exists(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise AuditError(f"cannot open audit trail {self.path}: {exc.strerror}") from exc
        try:
            size, prev, seq, alg = self._read_tail(fd)
            check_append_allowed(alg, self._key, self.path)
            lines, appended = chain_records(prepared, prev, seq, self._key, self.path)
            prev, seq = appended[-1].hash, appended[-1].seq
            data = b"".join(lines)
            try:
                _write_all(fd, data)
                os.fsync(fd)
                if created:
                    _fsync_directory(os.path.dirname(self.path))
            except OSError as exc:
                _cut_back(fd, size)
                self._known_tail = None
                raise AuditError(
                    f"cannot write audit trail {self.path}: {exc.strerror or exc}"
                ) from exc
            new_alg = ALG_HMAC_SHA256 if self._key is not None else ALG_SHA256
            self._known_tail = (size + len(data), prev, seq, new_alg)
            return appended
        finally:
            os.close(fd)


class _FileLock:
    """flock on a separate lock file, so readers of the trail never block."""

    def __init__(self, path: str, timeout: float):
        self._path = path
        self._timeout = timeout
        self._fd: int | None = None

    def __enter__(self):
        try:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as exc:
            raise AuditError(f"cannot open audit lock {self._path}: {exc.strerror}") from exc
        deadline = time.monotonic() + self._timeout
        pause = 0.0005
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(self._fd)
                    raise AuditError(f"cannot lock {self._path}: {exc.strerror}") from exc
            if time.monotonic() >= deadline:
                os.close(self._fd)
                raise AuditError(
                    f"cannot lock {self._path} within {self._timeout:g}s; another run holds it"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def __exit__(self, *_exc):
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[written:]


def _cut_back(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass  # the verifier will report the partial record; the original error is what matters


def _fsync_directory(directory: str) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
