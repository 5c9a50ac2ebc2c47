"""``fetch_file``: a model file (or shard) from S3 on local disk, once per container.

Call it from ``setup``, or from a task. An ``s3://`` object is downloaded to a cache
folder under ``/tmp`` (``LMR_FILE_CACHE_DIR``, default ``<tmp>/lmr-files``, private to this
user: mode 0700), named by its URI and ETag, so a warm container, and every process in
it, finds it there again. Each task checks the object again, at the cost of one HEAD: a
replaced object is fetched anew. The folder is kept under ``LMR_FILE_CACHE_MB`` (default
2,048 MB) across the container's processes: a download holds the folder's lock, and the
least recently used files are removed first to make room. A local path is used in place.
Every location obeys the allowed locations, as a manifest's inputs do. Importable without
pyspark.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import stat
import tempfile
import threading

from .errors import PermanentStorageError
from .procs import pid_alive
from .store.locations import allowed_locations, outside, resolve_local
from .store.storage import Storage
from .store.uris import is_s3

CACHE_DIR_ENV, CACHE_MB_ENV = "LMR_FILE_CACHE_DIR", "LMR_FILE_CACHE_MB"
DEFAULT_CACHE_MB = 2048
_lock = threading.Lock()
_PREFIX = "lmr-"
_OURS = re.compile(r"lmr-[0-9a-f]{32}(\.[^/]*)?")   # what fetch_file names its copies
_PARTIAL = re.compile(r"\.fetch-(\d+)-[a-z0-9_]{8}")  # a download under way: mkstemp's .fetch-<pid>-XXXXXXXX
_known: dict[str, tuple[str, int]] = {}   # uri -> (local path, the task it was checked in)
_task = 0                                 # bumped at every task's start (new_task)


def new_task() -> None:
    """A task starts in this process: the next fetch of each object checks it again."""
    global _task
    _task += 1


def cache_dir() -> str:
    return os.environ.get(CACHE_DIR_ENV) or os.path.join(tempfile.gettempdir(), "lmr-files")


def cache_bytes() -> int:
    raw = os.environ.get(CACHE_MB_ENV, "")
    if not raw:
        return DEFAULT_CACHE_MB * 2**20
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{CACHE_MB_ENV} must be a whole number of MB, at least 1, not {raw!r}")
    return int(raw) * 2**20


def fetch_file(uri: str, storage: Storage | None = None) -> str:
    """The local path of ``uri``: an S3 object downloaded once into the cache, or a local
    file as it is. Raises FileNotFoundError if there is none, ValueError if it is larger
    than the whole cache, PermanentStorageError if it lies outside the allowed locations."""
    reason = outside(uri, allowed_locations())
    if reason:
        raise PermanentStorageError(f"fetch_file: {reason}")
    if not is_s3(uri):
        path = resolve_local(uri)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{uri}: no such file")
        return path
    with _lock:
        known = _known.get(uri)
        if known and known[1] == _task and os.path.exists(known[0]):
            os.utime(known[0])   # recently used
            return known[0]      # checked in this task already: no request at all
        storage = storage or Storage()
        info = storage.stat(uri)
        if info is None or info.is_dir:
            raise FileNotFoundError(f"{uri}: no such object")
        limit = cache_bytes()
        if info.size > limit:
            raise ValueError(f"{uri} is {info.size / 2**20:,.0f} MB, more than the file cache's "
                             f"{limit / 2**20:,.0f} MB ({CACHE_MB_ENV})")
        folder = _private_folder(cache_dir())
        name = _PREFIX + hashlib.sha256(f"{uri}\0{info.etag}".encode()).hexdigest()[:32] + os.path.splitext(uri)[1][:16]
        path = os.path.join(folder, name)
        with _folder_lock(folder):   # the cap holds across the container's processes
            if os.path.exists(path):
                os.utime(path)   # recently used
            else:
                _make_room(folder, limit - info.size)
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".fetch-{os.getpid()}-")
                os.close(fd)
                try:
                    storage.download(uri, tmp, etag=info.etag)   # the version just seen, or an error
                    os.replace(tmp, path)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
        _known[uri] = (path, _task)
        return path


def _private_folder(folder: str) -> str:
    """``folder``, made 0700 if new; an existing one must be a folder of this user's that
    no one else can write to (a shared /tmp is anyone's to pre-create names in)."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise PermanentStorageError(f"fetch_file: the cache folder {folder} is not a folder of this user's "
                                    f"({CACHE_DIR_ENV})")
    if st.st_mode & 0o077:
        os.chmod(folder, 0o700)
    return folder


class _folder_lock:
    """An exclusive lock on the folder itself (flock on its descriptor: no file added)."""

    def __init__(self, folder: str):
        self.path = folder

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _make_room(folder: str, keep_at_most: int) -> None:
    """Remove the downloads that died with their process, then the least recently used
    cached files until at most ``keep_at_most`` bytes of them remain. Only files this
    module named are counted or removed: the folder may hold anything else."""
    files = []
    for entry in os.scandir(folder):
        partial = _PARTIAL.fullmatch(entry.name)
        if partial and not pid_alive(int(partial.group(1))):
            _unlink(entry.path)
        elif _OURS.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            st = entry.stat()
            files.append((st.st_mtime, st.st_size, entry.path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= keep_at_most:
            break
        _unlink(path)   # a process still reading it keeps its open copy
        total -= size


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
