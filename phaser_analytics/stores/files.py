"""Safe files: atomic writes, the advisory lock, and reads that refuse symbolic links.

Used by the JSON store and the project registry. A file is created only with
``O_CREAT|O_EXCL|O_NOFOLLOW`` (:func:`make_temp`) in the directory it belongs to and
renamed over its target, so a reader sees the old file or the new, never half of one, and a
symbolic link planted where a file of ours should be is replaced, never written through.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_TIMEOUT_SECONDS = 30.0
TEMP_SUFFIX = ".tmp"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: Windows: bytes as written (no newline translation), and no child process inherits the
#: descriptor; as ``tempfile.mkstemp`` opens its file there.
_WINDOWS_FLAGS = getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)
#: Names :func:`make_temp` draws before giving up (``tempfile.TMP_MAX`` is 10,000; 48
#: random bits make a second draw already unlikely).
_TEMP_ATTEMPTS = 100


def new_file_mode() -> int:
    """The mode an ordinary new file gets (0o666 less the umask in force): ``mkstemp`` makes
    files only their owner can read, and a record or an output file must read like any
    other new file."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def fsync_dir(directory: Path) -> None:
    """Make renames in ``directory`` durable; a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def make_temp(path: Path) -> tuple[int, str]:
    """A new, empty temporary file beside ``path``, open for writing: ``(descriptor, its
    path)``. Its name starts with a dot and ends in ``.tmp`` (:func:`is_temp_name`), so
    nothing reads it as a record.

    What ``tempfile.mkstemp`` promises (a name no file has, created with ``O_EXCL``, never
    through a link, mode 0600), without importing :mod:`tempfile`, which imports
    ``random``, ``shutil``, ``bz2`` and ``lzma``: about 2 ms of every command that writes
    (docs/performance.md, "Start-up")."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _WINDOWS_FLAGS
    for _ in range(_TEMP_ATTEMPTS):
        name = os.path.join(path.parent, f".{path.name}.{os.urandom(6).hex()}{TEMP_SUFFIX}")
        try:
            return os.open(name, flags, 0o600), name
        except FileExistsError:
            continue  # another writer's name: draw again, as mkstemp does
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(path.parent))


def stage_file(path: Path, data: bytes, *, sync: bool = True) -> Path:
    """Write ``data`` to a new temporary file beside ``path`` (:func:`make_temp`); return
    its path."""
    fd, tmp = make_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), new_file_mode())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temporary file, fsync, rename, directory fsync.
    A symbolic link at ``path`` is replaced by the file, not followed."""
    tmp = stage_file(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _open_regular(path: Path) -> tuple[int, int]:
    """A descriptor of ``path`` and its size, refusing a symbolic link (``OSError``
    ``ELOOP``) and anything that is not a regular file (``OSError`` ``EINVAL``): a FIFO would
    block, a device never end."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    try:
        import stat

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def _read_all(fd: int, size: int) -> bytes:
    # One read of the size the file has (a larger buffer costs an allocation of its size per
    # call: reading 10,000 records with 1 MB buffers took seconds).
    chunks = [os.read(fd, size + 1)]
    if len(chunks[0]) == size:  # the size it had, and no more: the whole file, in one read
        return chunks[0]
    while chunks[-1]:
        chunks.append(os.read(fd, 1 << 16))
    return b"".join(chunks)


def read_bytes_nofollow(path: Path) -> bytes:
    """The bytes of ``path``, refusing a symbolic link (``OSError`` ``ELOOP``) and anything
    that is not a regular file (``OSError`` ``EINVAL``)."""
    fd, size = _open_regular(path)
    try:
        return _read_all(fd, size)
    finally:
        os.close(fd)


class OpenFile:
    """A regular file opened without following links, read at any offset (``pread``) for as
    long as it is open: a file renamed over its name meanwhile changes nothing read. Closed
    by :meth:`close` or when dropped."""

    def __init__(self, path: Path) -> None:
        import weakref

        self.fd, self.size = _open_regular(path)
        self._closer = weakref.finalize(self, os.close, self.fd)

    def read(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes from ``offset`` (fewer only at the end of the file)."""
        chunks = []
        while size > 0:
            if hasattr(os, "pread"):
                chunk = os.pread(self.fd, size, offset)
            else:  # Windows: one reader per file, so seeking is as good
                os.lseek(self.fd, offset, os.SEEK_SET)
                chunk = os.read(self.fd, size)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._closer()


@contextlib.contextmanager
def hold_lock(path: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if need be, never through a
    symbolic link) for the block: ``flock`` where the system has it, else the filelock
    library. The operating system releases the lock of a process that dies. Raises
    ``TimeoutError`` when another process holds it for ``timeout`` seconds and ``OSError``
    when the lock file cannot be opened."""
    fd = _flock(path, timeout)
    if fd is None:
        import filelock

        lock = filelock.FileLock(str(path), timeout=timeout)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise TimeoutError(errno.EAGAIN, f"{path} is locked by another process") from None
        try:
            yield
        finally:
            lock.release()
        return
    try:
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


_CONTENDED = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES})
_POLL_SECONDS = 0.05


def _flock(path: Path, timeout: float) -> int | None:
    try:
        import fcntl
    except ImportError:
        return None
    flags = os.O_RDWR | os.O_CREAT | _CLOEXEC | _NOFOLLOW
    try:
        fd = os.open(path, flags, new_file_mode())
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        os.unlink(path)  # a symbolic link planted as the lock: remove the link, not its target
        fd = os.open(path, flags | os.O_EXCL, new_file_mode())
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if exc.errno == errno.ENOSYS:
                    os.close(fd)
                    return None
                if exc.errno not in _CONTENDED:
                    raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(errno.EAGAIN, f"{path} is locked by another process")
            time.sleep(min(_POLL_SECONDS, remaining))
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


#: From this many files on, one ``syncfs`` of their file system (Linux) replaces one fsync
#: per file: the bulk-import target (docs/performance.md) needs it.
_SYNCFS_FROM = 32


def sync_files(paths: list[Path]) -> None:
    """Make the data of ``paths`` (in one directory) durable before they are renamed."""
    if not paths:
        return
    if len(paths) >= _SYNCFS_FROM and _syncfs(paths[0].parent):
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _syncfs(directory: Path) -> bool:
    """``syncfs`` of the file system holding ``directory``; False where there is none."""
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(directory, os.O_RDONLY)
    except (OSError, AttributeError):
        return False
    try:
        return bool(libc.syncfs(fd) == 0)
    finally:
        os.close(fd)
