"""``fetch_file``: a model file (or shard) from S3 on local disk, once per container.

Call it from ``setup``. An ``s3://`` object is downloaded to a cache folder under
``/tmp`` (``LMR_FILE_CACHE_DIR``, default ``<tmp>/lmr-files``), named by its URI and
ETag, so a warm container, and every process in it, finds it there again, and a
replaced object is fetched anew. The folder is kept under ``LMR_FILE_CACHE_MB`` (default
2,048 MB): before a download, the least recently used files are removed to make room.
A local path is used in place. Importable without pyspark.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading

from .store.storage import Storage
from .store.uris import is_s3

CACHE_DIR_ENV, CACHE_MB_ENV = "LMR_FILE_CACHE_DIR", "LMR_FILE_CACHE_MB"
DEFAULT_CACHE_MB = 2048
_lock = threading.Lock()
_PREFIX = "lmr-"
_OURS = re.compile(r"lmr-[0-9a-f]{32}(\.[^/]*)?")   # what fetch_file names its copies
_known: dict[str, str] = {}   # uri -> local path, for this process: no request at all the second time


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
    than the whole cache."""
    if not is_s3(uri):
        path = os.path.abspath(os.path.expanduser(uri))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{uri}: no such file")
        return path
    with _lock:
        known = _known.get(uri)
        if known and os.path.exists(known):
            os.utime(known)   # recently used
            return known
        storage = storage or Storage()
        info = storage.stat(uri)
        if info is None or info.is_dir:
            raise FileNotFoundError(f"{uri}: no such object")
        limit = cache_bytes()
        if info.size > limit:
            raise ValueError(f"{uri} is {info.size / 2**20:,.0f} MB, more than the file cache's "
                             f"{limit / 2**20:,.0f} MB ({CACHE_MB_ENV})")
        folder = cache_dir()
        os.makedirs(folder, exist_ok=True)
        name = _PREFIX + hashlib.sha256(f"{uri}\0{info.etag}".encode()).hexdigest()[:32] + os.path.splitext(uri)[1][:16]
        path = os.path.join(folder, name)
        if os.path.exists(path):
            os.utime(path)
        else:
            _make_room(folder, limit - info.size)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".fetch-")
            os.close(fd)
            try:
                storage.download(uri, tmp)
                os.replace(tmp, path)   # another process fetching the same file: either copy is whole
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        _known[uri] = path
        return path


def _make_room(folder: str, keep_at_most: int) -> None:
    """Remove the least recently used cached files until at most ``keep_at_most`` bytes
    of them remain. Only files this module named are counted or removed: the folder is
    the operator's to choose, and may hold anything else."""
    files = []
    for entry in os.scandir(folder):
        if _OURS.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            st = entry.stat()
            files.append((st.st_mtime, st.st_size, entry.path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= keep_at_most:
            break
        try:
            os.unlink(path)   # a process still reading it keeps its open copy
        except FileNotFoundError:
            pass
        total -= size
