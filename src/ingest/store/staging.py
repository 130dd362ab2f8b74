"""Hand-over of load batches between workers and the one warehouse writer.

Fetching and extracting can run anywhere (several flow runs, several
workers, a Dask or Ray task runner); DuckDB takes one writing process per
file. So a worker writes each finished :class:`~ingest.records.LoadBatch`
as one Parquet file into a staging directory shared with the loader, and the
loader consumes it exactly once:

* a file appears under its final name only when complete (written as a
  dot-file, then renamed, which is atomic on one filesystem);
* the loader records the file's ``batch_id`` in ``staged_batches`` in the
  same transaction as the batch's rows, and deletes the file after commit: a
  crash before the commit leaves the file to load again, a crash after it
  leaves a file whose id is already recorded and is only deleted;
* names sort in staging order (a nanosecond clock first), so leftovers of a
  crashed run load in the order they were written: page chunks before the
  feed states that follow them.

One Parquet file per batch holds one row: each part of the batch (candidates,
listings, fetches ...) is a column of nested structs whose Arrow types are
derived from the records' type hints. DuckDB reads them as they are::

    SELECT batch_id, len(candidates) FROM 'warehouse/news-staging/*.parquet';
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.records import LoadBatch, Staged
from ingest.store.schema import _fields, arrow_type, decoder, encoder

SUFFIX = ".parquet"
FAILED_DIR = "failed"  # batches the loader could not write, kept for inspection


class StagingError(Exception):
    """A staged batch that cannot be read or was lost before it was loaded."""


# --------------------------------------------------------------------------- codec


@cache
def batch_schema() -> pa.Schema:
    return pa.schema(
        [pa.field("batch_id", pa.string(), nullable=False)]
        + [pa.field(n, arrow_type(t)) for n, t in _fields(LoadBatch)]
    )


def encode(batch: LoadBatch, batch_id: str) -> pa.Table:
    row = {"batch_id": batch_id, **encoder(LoadBatch)(batch)}
    return pa.Table.from_pylist([row], schema=batch_schema())


def decode(table: pa.Table) -> tuple[str, LoadBatch]:
    rows = table.to_pylist()
    if len(rows) != 1:
        raise StagingError(f"a staged batch holds one row, not {len(rows)}")
    row = rows[0]
    return row["batch_id"], decoder(LoadBatch)(row)


# --------------------------------------------------------------------------- files


def new_batch_id(run_id: str) -> str:
    """Sorts in staging order; names the run it came from."""
    safe = "".join(c if c.isalnum() or c == "-" else "-" for c in run_id) or "run"
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}_{uuid.uuid4().hex[:8]}_{safe}"


def run_of(path: Path) -> str:
    """The (sanitised) run id in a staged file's name."""
    return path.name.removesuffix(SUFFIX).split("_", 2)[-1]


def write(batch: LoadBatch, directory: Path, counts: Mapping[str, int] | None = None) -> Staged:
    """Publish ``batch`` in ``directory``: complete under its final name, or absent."""
    directory.mkdir(parents=True, exist_ok=True)
    batch_id = new_batch_id(batch.run_id)
    final = directory / f"{batch_id}{SUFFIX}"
    partial = directory / f".{batch_id}{SUFFIX}.part"
    try:
        with partial.open("wb") as out:
            pq.write_table(encode(batch, batch_id), out, compression="zstd")
            out.flush()
            os.fsync(out.fileno())
        partial.replace(final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Staged(str(final), batch_id, batch.run_id, dict(counts or {}))


def read(path: Path) -> tuple[str, LoadBatch]:
    """A staged file's id and batch. Anything that keeps it from decoding into
    today's records (a damaged file, a column this version expects and the
    file lacks, a value no longer known) is a :class:`StagingError`."""
    try:
        schema = batch_schema()
        with pq.ParquetFile(path) as file:
            lacking = sorted(set(schema.names) - set(file.schema_arrow.names))
            if lacking:
                raise StagingError(f"staged batch {path.name} lacks {', '.join(lacking)}")
            table = file.read(columns=schema.names).cast(schema)
        return decode(table)
    except (FileNotFoundError, StagingError):
        raise
    except Exception as exc:
        raise StagingError(f"cannot read staged batch {path.name}: {exc}") from exc


def pending(directory: Path) -> list[Path]:
    """Complete staged files, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f"*{SUFFIX}") if not p.name.startswith("."))


def quarantine(path: Path) -> Path:
    """Move a batch the loader could not write aside (kept, never retried)."""
    target = path.parent / FAILED_DIR / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    path.replace(target)
    return target


def stale_parts(directory: Path, older_than: float) -> list[Path]:
    """Partial files left by writers that died (``older_than``: a POSIX time)."""
    if not directory.is_dir():
        return []
    return [p for p in directory.glob(f".*{SUFFIX}.part") if p.stat().st_mtime < older_than]
