"""Splitting a large Parquet file by row group.

A Parquet file is cut into byte ranges like a line-delimited one (engine/store/splits.py),
and a range ``[start, end)`` owns the row groups whose first byte lies inside it, so each
row group belongs to exactly one range. The task reads the footer and its row groups with
ranged reads (S3 ranged GETs; nothing else of the file is fetched) and stages them as a
Parquet file of their own, which Spark reads like any other. A range that holds no row
group's start stages an empty file with the schema; a row group larger than a range makes
its owner stage more than the range.
"""

from __future__ import annotations

import io


class _RangedFile(io.RawIOBase):
    """A read-only, seekable view of ``uri`` that fetches only the bytes asked for."""

    def __init__(self, storage, uri: str, size: int):
        self._storage, self._uri, self._size, self._pos = storage, uri, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:
        data = self._storage.read_range(self._uri, self._pos, min(self._pos + len(buffer), self._size))
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)


def _first_byte(row_group) -> int:
    starts = []
    for i in range(row_group.num_columns):
        col = row_group.column(i)
        starts.append(col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset)
    return min(starts)


def owned_row_groups(metadata, start: int, end: int) -> list[int]:
    """The row groups whose first byte lies in [start, end)."""
    return [i for i in range(metadata.num_row_groups) if start <= _first_byte(metadata.row_group(i)) < end]


def stage_row_groups(storage, f, local: str) -> None:
    """Write the row groups ``f``'s range owns to ``local`` as a Parquet file."""
    import pyarrow.parquet as pq  # only a Parquet split needs it (the coordinator has none)

    with pq.ParquetFile(_RangedFile(storage, f.uri, f.file_size)) as source:
        owned = owned_row_groups(source.metadata, f.start, f.end)
        with pq.ParquetWriter(local, source.schema_arrow) as out:
            for i in owned:
                out.write_table(source.read_row_group(i))
