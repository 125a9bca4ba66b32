"""samples.parquet, streamed: one row per written sample, never the whole table in memory.

During the build each shard task's writer appends its rows, ``BATCH_ROWS`` at a time,
to a part file of its own (``<tmp>/.parts/<split>-<task>.pickle``). At finalize, when the
shards have their final names, ``write_final`` copies the parts in task order (= the
input order within each split, splits in SPLITS order), batch by batch, into
``samples.parquet`` with the fixed schema ``part_schema()``, replacing the temporary
shard names, and removes ``.parts``. At most one batch of rows is in memory.

The final file has the columns, Arrow types and pandas metadata that
``DataFrame.to_parquet`` wrote before (so ``pandas.read_parquet`` gives the same frame:
``width``/``height`` as nullable ``Int64``, strings as ``str``). As pandas did, a text
column without any value is a null column (read back as ``object`` holding None):
``group`` when no written sample has a group (no converter sets one today), and every
text column when no sample was written. pandas is not imported (only its version is
read for the metadata); pyarrow only when the table is written.
"""
from __future__ import annotations

import functools
import json
import os
import pickle
import shutil
from typing import TYPE_CHECKING, Any, BinaryIO, Iterable, Iterator

if TYPE_CHECKING:
    import pyarrow as pa

PARTS_DIR = ".parts"
BATCH_ROWS = 10_000

COLUMNS = ["split", "shard", "index", "source_id", "source", "group", "label",
           "width", "height", "bytes", "sha1"]
_INTS = {"index", "width", "height", "bytes"}


@functools.cache
def part_schema() -> pa.Schema:
    """The fixed schema of the rows: COLUMNS, int64 or large_string (both nullable)."""
    import pyarrow as pa

    return pa.schema([(name, pa.int64() if name in _INTS else pa.large_string())
                      for name in COLUMNS])


def parts_folder(tmp: str) -> str:
    return os.path.join(tmp, PARTS_DIR)


def part_path(tmp: str, split: str, number: int) -> str:
    return os.path.join(parts_folder(tmp), f"{split}-{number:05d}.pickle")


class PartWriter:
    """Appends rows (tuples in COLUMNS order) to one part file, BATCH_ROWS at a time (each
    batch one pickle of its columns). Tracks what finalize needs without reading the rows
    back: the row count, the label characters and whether any row has a group.

    The parts are pickles, not Parquet, so that pyarrow (about 90 MB resident once
    imported) is loaded only at finalize, after the shards' digests have been read, as
    before; only this process writes and reads them, inside its temporary folder."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.rows = 0
        self.chars: set[str] = set()
        self.has_group = False
        self._buffer: list[tuple[Any, ...]] = []
        self._file: BinaryIO | None = None

    def add(self, row: tuple[Any, ...]) -> None:
        self._buffer.append(row)
        self.rows += 1
        self.chars.update(row[6])  # label
        if row[5] is not None:  # group
            self.has_group = True
        if len(self._buffer) >= BATCH_ROWS:
            self._flush()

    def _open(self) -> BinaryIO:
        if self._file is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._file = open(self.path, "wb")
        return self._file

    def _flush(self) -> None:
        columns = [list(col) for col in zip(*self._buffer)]
        pickle.dump(columns, self._open(), protocol=pickle.HIGHEST_PROTOCOL)
        self._buffer.clear()

    def close(self) -> None:
        if self._buffer:
            self._flush()
        self._open().close()  # an empty part too, so every task has one
        self._file = None

    def abort(self) -> None:
        self._buffer.clear()
        if self._file is not None:
            self._file.close()
            self._file = None


def read_part(path: str) -> Iterator[list[list[Any]]]:
    """The batches of a part file, each a list of columns in COLUMNS order."""
    with open(path, "rb") as f:
        while True:
            try:
                yield pickle.load(f)
            except EOFError:
                return


def null_columns(rows: int, has_group: bool) -> set[str]:
    """The text columns without a single value, which pandas wrote as null columns."""
    if rows == 0:
        return {name for name in COLUMNS if name not in _INTS}
    return set() if has_group else {"group"}


def final_schema(nulls: set[str]) -> pa.Schema:
    import pyarrow as pa

    fields = [pa.field(f.name, pa.null()) if f.name in nulls else f for f in part_schema()]
    return pa.schema(fields, metadata={b"pandas": _pandas_metadata(nulls).encode()})


def _pandas_metadata(nulls: set[str]) -> str:
    """What pandas' to_parquet stored for the frame dataconv used to write."""
    def column(name: str) -> dict[str, Any]:
        if name in _INTS:
            kinds = ("int64", "Int64" if name in ("width", "height") else "int64")
        elif name in nulls:
            kinds = ("empty", "object")
        else:
            kinds = ("object", "str")
        return {"name": name, "field_name": name, "pandas_type": kinds[0],
                "numpy_type": kinds[1], "metadata": None}

    meta: dict[str, Any] = {"index_columns": [], "column_indexes": [],
                            "columns": [column(n) for n in COLUMNS], "attributes": {},
                            "creator": {"library": "pyarrow", "version": _pyarrow_version()}}
    version = _pandas_version()
    if version:
        meta["pandas_version"] = version
    return json.dumps(meta)


def _pyarrow_version() -> str:
    import pyarrow

    return pyarrow.__version__


def _pandas_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("pandas")
    except metadata.PackageNotFoundError:
        return None


def write_final(tmp: str, out_path: str, parts: Iterable[tuple[str, dict[str, str]]],
                rows: int, has_group: bool) -> None:
    """Copy ``parts`` (path, temporary -> final shard name) in order into ``out_path``,
    one batch (at most BATCH_ROWS rows) at a time; then remove the parts folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    nulls = null_columns(rows, has_group)
    schema = final_schema(nulls)
    shard_at = COLUMNS.index("shard")
    with pq.ParquetWriter(out_path, schema) as out:
        for path, renamed in parts:
            for columns in read_part(path):
                columns[shard_at] = [renamed[name] for name in columns[shard_at]]
                out.write_batch(pa.RecordBatch.from_arrays(
                    [pa.nulls(len(col)) if f.name in nulls else arrow_array(col, f.type)
                     for col, f in zip(columns, schema)], schema=schema))
    shutil.rmtree(parts_folder(tmp), ignore_errors=True)


def arrow_array(values: list[Any], kind: pa.DataType) -> pa.Array:
    """``pa.array(values, type=kind)`` for int64 and large_string columns holding None.

    Built from NumPy buffers because ``pa.array`` imports pandas the first time it
    converts Python objects (0.35 s and 60 MB, to check whether they are pandas objects;
    ours never are): a conversion would pay that at every run."""
    import numpy as np
    import pyarrow as pa

    valid = np.fromiter((v is not None for v in values), bool, len(values))
    null_count = len(values) - int(valid.sum())
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if null_count else None
    if pa.types.is_integer(kind):
        data = np.fromiter((0 if v is None else v for v in values), np.int64, len(values))
        return pa.Array.from_buffers(kind, len(values), [bitmap, pa.py_buffer(data)], null_count)
    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    offsets = np.zeros(len(values) + 1, np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return pa.Array.from_buffers(kind, len(values), [bitmap, pa.py_buffer(offsets),
                                                     pa.py_buffer(b"".join(encoded))], null_count)


METADATA = ("source_id", "source", "group")  # what a sample's key is looked up by


def read_table(path: str, columns: Iterable[str], optional: Iterable[str] = ()) -> pa.Table:
    """``columns`` and those of ``optional`` that exist, from the samples.parquet of a
    dataset the user named (opened as given, never a FIFO); a missing column of ``columns``
    or a damaged file is a one-line DataconvError."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dataconv.errors import DataconvError
    from dataconv.io.safeopen import open_user_path

    try:
        with os.fdopen(open_user_path(path), "rb") as f:
            table = pq.ParquetFile(f)
            names = set(table.schema_arrow.names)
            return table.read(columns=[*columns, *(c for c in optional if c in names)])
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError) as e:
        first = (str(e) or type(e).__name__).splitlines()[0][:160]
        raise DataconvError(f"{path}: not a readable samples table ({first})") from None


def sample_metadata(root: str) -> dict[str, dict[str, str | None]]:
    """SHARD:INDEX -> the ``METADATA`` columns ``root/samples.parquet`` has; empty for a tree
    without the table (any LMDB tree that is not a dataconv output)."""
    from dataconv.outputs.manifest import SAMPLES

    path = os.path.join(root, SAMPLES)
    if not os.path.lexists(path):
        return {}
    columns = read_table(path, ["shard", "index"], METADATA).to_pydict()
    present = [c for c in METADATA if c in columns]
    rows = zip(columns["shard"], columns["index"], *(columns[c] for c in present))
    return {f"{shard}:{index}": {c: None if v is None else str(v) for c, v in zip(present, values)}
            for shard, index, *values in rows}
