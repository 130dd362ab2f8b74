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
from ingest.records import Extracted, FeedEntry, FetchResult, PendingPage
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
        PendingPage,
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


Codec = typing.Callable[[Any], Any]
_PLAIN = (str, int, float, bool, bytes)


def _kind(tp: Any) -> tuple[str, Any, tuple[Any, ...]]:
    """What a type hint is, for building its encoder and decoder once."""
    tp = _optional(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "enum", tp, ()
    if tp is datetime:
        return "datetime", tp, ()
    if tp in _PLAIN:
        return "plain", tp, ()
    if dataclasses.is_dataclass(tp):
        return "record", tp, ()
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return "pair", tp, args
    if origin in (list, tuple, frozenset, set, Sequence):
        return "list", origin, args
    if origin in (dict, Mapping) or (isinstance(origin, type) and issubclass(origin, Mapping)):
        return "map", origin, args
    raise TypeError(f"cannot stage a value of type {tp!r}")


_PLAIN_ARROW: dict[type, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    bytes: pa.binary(),
}


@cache
def arrow_type(tp: Any) -> pa.DataType:
    """The Arrow type of a record field's type hint."""
    kind, base, args = _kind(tp)
    if kind == "plain":
        return _PLAIN_ARROW[base]
    if kind == "enum":
        return pa.string()
    if kind == "datetime":
        return pa.timestamp("us", tz="UTC")
    if kind == "record":
        return pa.struct([pa.field(n, arrow_type(t)) for n, t in _fields(base)])
    if kind == "pair":
        return pa.struct([pa.field(f"f{i}", arrow_type(t)) for i, t in enumerate(args)])
    if kind == "list":
        return pa.list_(arrow_type(args[0]))
    return pa.map_(arrow_type(args[0]), arrow_type(args[1]))


def _maybe(fn: Codec) -> Codec:
    return lambda v: None if v is None else fn(v)


@cache
def encoder(tp: Any) -> Codec:
    """A function from a record value to the plain value Arrow takes for
    ``arrow_type(tp)`` (built once per type: staging is on the hot path)."""
    kind, base, args = _kind(tp)
    if kind in ("plain", "datetime"):
        return lambda v: v
    if kind == "enum":
        return _maybe(lambda v: v.value)
    if kind == "record":
        parts = [(n, encoder(t)) for n, t in _fields(base)]
        return _maybe(lambda v: {n: enc(getattr(v, n)) for n, enc in parts})
    if kind == "pair":
        names = [f"f{i}" for i in range(len(args))]
        if all(_kind(a)[0] == "plain" for a in args):
            return _maybe(lambda v: dict(zip(names, v, strict=True)))
        encs = [encoder(a) for a in args]
        return _maybe(lambda v: {n: e(x) for n, e, x in zip(names, encs, v, strict=True)})
    if kind == "list":
        if _kind(args[0])[0] == "plain":
            return _maybe(list)
        item = encoder(args[0])
        return _maybe(lambda v: [item(x) for x in v])
    key, value = encoder(args[0]), encoder(args[1])
    return _maybe(lambda v: [(key(k), value(x)) for k, x in v.items()])


@cache
def decoder(tp: Any) -> Codec:
    """The inverse of :func:`encoder` over what ``Table.to_pylist`` returns."""
    kind, base, args = _kind(tp)
    if kind == "plain":
        return lambda v: v
    if kind == "datetime":
        return _maybe(lambda v: v.astimezone(UTC))
    if kind == "enum":
        return _maybe(base)
    if kind == "record":
        parts = [(n, decoder(t)) for n, t in _fields(base)]
        return _maybe(lambda v: base(**{n: dec(v[n]) for n, dec in parts}))
    if kind == "pair":
        decs = [(f"f{i}", decoder(a)) for i, a in enumerate(args)]
        return _maybe(lambda v: tuple(d(v[n]) for n, d in decs))
    if kind == "list":
        make = list if base in (list, Sequence) else base
        if _kind(args[0])[0] == "plain":
            return _maybe(make)
        item = decoder(args[0])
        return _maybe(lambda v: make(item(x) for x in v))
    key, value = decoder(args[0]), decoder(args[1])
    return _maybe(lambda v: {key(k): value(x) for k, x in v})


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
