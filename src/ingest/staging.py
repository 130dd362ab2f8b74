"""Hand-over of load batches between workers and the one warehouse writer.

Fetching and extracting can run anywhere (several flow runs, several
workers, a Dask or Ray task runner); DuckDB takes one writing process per
file. So a worker writes each finished :class:`~ingest.warehouse.LoadBatch`
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

import dataclasses
import os
import types
import typing
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.dedup import Candidate, Listing
from ingest.near import Fingerprint
from ingest.records import Extracted, FeedEntry, FetchResult
from ingest.robots import RobotsRecord
from ingest.warehouse import FeedUpdate, LoadBatch, RawPage, Reject

SUFFIX = ".parquet"
FAILED_DIR = "failed"  # batches the loader could not write, kept for inspection
# Types the records' string annotations may name (``from __future__ import annotations``).
_NAMES: dict[str, Any] = {
    t.__name__: t
    for t in (
        Candidate,
        Listing,
        Fingerprint,
        Extracted,
        FeedEntry,
        FetchResult,
        RobotsRecord,
        FeedUpdate,
        LoadBatch,
        RawPage,
        Reject,
        datetime,
    )
}


class StagingError(Exception):
    """A staged batch that cannot be read or was lost before it was loaded."""


@dataclass(frozen=True)
class Staged:
    """A batch waiting in the staging directory (what a task hands on)."""

    path: str
    batch_id: str
    run_id: str
    counts: Mapping[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- codec


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, localns=_NAMES)


def _fields(cls: type) -> list[tuple[str, Any]]:
    hints = _hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


def _optional(tp: Any) -> Any:
    """``X | None`` -> ``X`` (Arrow columns are nullable anyway)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"cannot stage a union of several types: {tp}")
        return args[0]
    return tp


@cache
def arrow_type(tp: Any) -> pa.DataType:
    """The Arrow type of a record field's type hint."""
    tp = _optional(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if (isinstance(tp, type) and issubclass(tp, Enum)) or tp is str:
        return pa.string()
    if tp is bool:
        return pa.bool_()
    if tp is int:
        return pa.int64()
    if tp is float:
        return pa.float64()
    if tp is bytes:
        return pa.binary()
    if tp is datetime:
        return pa.timestamp("us", tz="UTC")
    if dataclasses.is_dataclass(tp):
        return pa.struct([pa.field(n, arrow_type(t)) for n, t in _fields(tp)])  # type: ignore[arg-type]
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return pa.struct([pa.field(f"f{i}", arrow_type(t)) for i, t in enumerate(args)])
    if origin in (list, tuple, frozenset, set, Sequence):
        return pa.list_(arrow_type(args[0]))
    if origin in (dict, Mapping) or (isinstance(origin, type) and issubclass(origin, Mapping)):
        return pa.map_(arrow_type(args[0]), arrow_type(args[1]))
    raise TypeError(f"no Arrow type for {tp!r}")


def to_arrow(value: Any, tp: Any) -> Any:
    """A record value as the plain Python value Arrow takes for ``arrow_type(tp)``."""
    if value is None:
        return None
    tp = _optional(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(tp):
        return {n: to_arrow(getattr(value, n), t) for n, t in _fields(tp)}  # type: ignore[arg-type]
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return {f"f{i}": to_arrow(v, t) for i, (v, t) in enumerate(zip(value, args, strict=True))}
    if origin in (list, tuple, frozenset, set, Sequence):
        inner = args[0]
        if inner in (str, int, float, bytes):
            return list(value)
        return [to_arrow(v, inner) for v in value]
    if origin in (dict, Mapping) or (isinstance(origin, type) and issubclass(origin, Mapping)):
        return [(to_arrow(k, args[0]), to_arrow(v, args[1])) for k, v in value.items()]
    return value


def from_arrow(value: Any, tp: Any) -> Any:
    """The inverse of :func:`to_arrow` over what ``Table.to_pylist`` returns."""
    if value is None:
        return None
    tp = _optional(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    if tp is datetime:
        return value.astimezone(UTC)
    if dataclasses.is_dataclass(tp):
        return tp(**{n: from_arrow(value[n], t) for n, t in _fields(tp)})  # type: ignore[arg-type,operator]
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return tuple(from_arrow(value[f"f{i}"], t) for i, t in enumerate(args))
    if origin in (list, tuple, frozenset, set, Sequence):
        inner = args[0]
        items = (
            value if inner in (str, int, float, bytes) else [from_arrow(v, inner) for v in value]
        )
        return list(items) if origin in (list, Sequence) else (origin or list)(items)
    if origin in (dict, Mapping) or (isinstance(origin, type) and issubclass(origin, Mapping)):
        return {from_arrow(k, args[0]): from_arrow(v, args[1]) for k, v in value}
    return value


@cache
def batch_schema() -> pa.Schema:
    return pa.schema(
        [pa.field("batch_id", pa.string(), nullable=False)]
        + [pa.field(n, arrow_type(t)) for n, t in _fields(LoadBatch)]
    )


def encode(batch: LoadBatch, batch_id: str) -> pa.Table:
    row = {"batch_id": batch_id, **to_arrow(batch, LoadBatch)}
    return pa.Table.from_pylist([row], schema=batch_schema())


def decode(table: pa.Table) -> tuple[str, LoadBatch]:
    rows = table.to_pylist()
    if len(rows) != 1:
        raise StagingError(f"a staged batch holds one row, not {len(rows)}")
    row = rows[0]
    return row["batch_id"], from_arrow(row, LoadBatch)


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
    try:
        table = pq.read_table(path, schema=batch_schema())
    except FileNotFoundError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise StagingError(f"cannot read staged batch {path.name}: {exc}") from exc
    return decode(table)


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
