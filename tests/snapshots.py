"""Every file or object under some roots, with its bytes: what a data-safety test takes
before the engine deletes anything and compares after (local folders or s3:// roots)."""

from __future__ import annotations

from engine.store.storage import Storage
from engine.store.uris import join


def snapshot(storage: Storage, roots: list[str]) -> dict[str, bytes]:
    """{uri: bytes} of every file or object under ``roots``."""
    return {f.uri: storage.read_bytes(f.uri) for root in roots for f in storage.list(join(root, ""))}
