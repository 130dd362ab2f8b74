"""Arrow types, one source each: a table's columns from the warehouse itself
(its migrations), a record's fields from the record's type hints.

Rows go into DuckDB as Arrow tables (one registered table per write, not a
statement per row); their types are never written by hand.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Any

import duckdb
import pyarrow as pa


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal (for statements that take no
    parameters: ATTACH, LOAD, SET)."""
    return "'" + text.replace("'", "''") + "'"


def language_subtag(tag: str) -> str:
    """A language tag's primary subtag, lower case (``pt-BR``, ``pt_br`` -> ``pt``)."""
    return tag.replace("_", "-").split("-", 1)[0].lower()


def language_is(column: str, tag: str) -> str:
    """SQL: ``column`` holds a tag of the same primary language as ``tag``
    (the filter ``--language`` means in search and export)."""
    subtag = sql_literal(language_subtag(tag))
    return f"lower(split_part(replace(coalesce({column}, ''), '_', '-'), '-', 1)) = {subtag}"


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


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


def record_schema(cls: type, columns: Sequence[str] | None = None) -> pa.Schema:
    """The Arrow schema of a record (or of some of its fields, in that order)."""
    types_ = dict(_fields(cls))
    return pa.schema([pa.field(n, arrow_type(types_[n])) for n in (columns or list(types_))])


def table_schema(
    con: duckdb.DuckDBPyConnection, tables: str | Sequence[str], columns: Sequence[str]
) -> pa.Schema:
    """The Arrow schema of these columns as the warehouse declares them: each
    column is looked up in the given tables, in order."""
    names = [tables] if isinstance(tables, str) else list(tables)
    found: dict[str, pa.Field] = {}
    for name in names:
        for f in con.sql(f"SELECT * FROM {name} LIMIT 0").to_arrow_table().schema:
            found.setdefault(f.name, f)
    missing = [c for c in columns if c not in found]
    if missing:
        raise KeyError(f"no column {', '.join(missing)} in {', '.join(names)}")
    return pa.schema([found[c].with_nullable(True) for c in columns])


# The key of every table that has one. A DuckDB file declares them as
# primary keys too (a test checks that the two agree); a DuckLake declares
# none, so the write path keeps them itself: rows go in through
# :func:`insert_rows`, never by the database's own ``INSERT OR ...``.
KEYS: dict[str, tuple[str, ...]] = {
    "sources": ("source_id",),
    "feeds": ("feed_id",),
    "articles": ("article_id",),
    "article_urls": ("url",),
    "sightings": ("article_id", "feed_id", "run_id"),
    "clusters": ("cluster_id",),
    "runs": ("run_id",),
    "robots": ("origin",),
    "tdmrep": ("origin",),
    "article_revisions": ("article_id", "revision"),
    "backfill_plan": ("backfill_id", "url"),
    "backfill_done": ("backfill_id", "url"),
    "backfills": ("backfill_id",),
    "raw_pages": ("url", "sha256"),
    "staged_batches": ("batch_id",),
    "pending_pages": ("url", "feed_id"),
    "schema_migrations": ("version",),
    "schema_views": ("name",),
    "alerts": ("alert_id",),
}

Existing = typing.Literal["error", "keep", "update"]


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, source: str, existing: Existing = "keep"
) -> None:
    """Insert the rows of ``source`` (a registered relation, or a query in
    parentheses) into ``table`` by column name, one row per key. A row whose
    key the table holds already is left out (``keep``), or its columns that
    ``source`` carries are set from it (``update``); of rows sharing a key in
    ``source``, one goes in."""
    keys = KEYS[table]
    match = " AND ".join(f"{table}.{k} = s.{k}" for k in keys)
    rows = f"(SELECT DISTINCT ON ({', '.join(keys)}) * FROM {source})"
    if existing != "update":
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT s.* FROM {rows} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {match})"
        )
        return
    # the rows are computed once for both statements
    staged = f"upsert_{table}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT * FROM {rows}")
    try:
        columns = [d[0] for d in con.execute(f"SELECT * FROM {staged} LIMIT 0").description]
        changed = [c for c in columns if c not in keys]
        if changed:
            sets = ", ".join(f"{c} = s.{c}" for c in changed)
            con.execute(f"UPDATE {table} SET {sets} FROM {staged} s WHERE {match}")
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT s.* FROM {staged} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {match})"
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.{staged}")


@contextmanager
def values(
    con: duckdb.DuckDBPyConnection, name: str, /, **columns: Iterable[str | None]
) -> Iterator[str]:
    """String columns registered as the table ``name`` for the statements
    inside (yields the name). Queries join it instead of binding a Python
    list: DuckDB costs a failed pandas import per element of a bound list
    (docs/decisions.md), a registered Arrow table costs nothing per element."""
    con.register(name, pa.table({k: pa.array(list(v), pa.string()) for k, v in columns.items()}))
    try:
        yield name
    finally:
        con.unregister(name)


# DuckDB answers ``key IN (literal, ...)`` on a primary key from its index,
# one lookup per key; a join reads the whole key column (and more) however
# few keys are wanted. Measured (articles with 2 KB bodies; literals against
# a join): at 4k rows 20 keys 1.5/3.2 ms, 200 keys 5.5/5.9 ms, 500 keys
# 15.3/8.1 ms; at 100k rows 200 keys 11.6/16.3 ms, 500 keys 18.4/16.4 ms; at
# 1M rows 100 keys 47/425 ms, 1,000 keys 341/386 ms. So literals up to this
# many keys: never much worse on a small warehouse, far better on a big one.
INDEX_LOOKUP_MAX = 256


@contextmanager
def key_in(
    con: duckdb.DuckDBPyConnection, column: str, keys: Iterable[str], name: str = "wanted_keys"
) -> Iterator[str]:
    """A condition for the statements inside: ``column`` (a table's primary
    key) is one of ``keys``. Up to :data:`INDEX_LOOKUP_MAX` keys it is a list
    of literals, which DuckDB looks up in the key's index, so the cost follows
    the keys wanted, not the table's size; beyond, the keys are joined as a
    registered table (:func:`values`). Tables without an index (a lake's)
    read it as a filter."""
    wanted = sorted(set(keys))
    if len(wanted) <= INDEX_LOOKUP_MAX:
        yield f"{column} IN ({', '.join(map(sql_literal, wanted)) or 'NULL'})"
        return
    with values(con, name, key=wanted):
        yield f"{column} IN (SELECT key FROM {name})"


def insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Sequence[Mapping[str, Any]],
    existing: Existing = "error",
) -> int:
    """Insert rows (dicts with the same keys) by column name, typed as the
    table declares its columns; columns the rows leave out keep their default.
    ``existing``: what a row whose key the table holds already does (see
    :func:`insert_rows`); ``error`` only where that cannot happen. Returns
    how many rows were given."""
    if not rows:
        return 0
    name = f"batch_{table}"
    schema = table_schema(con, table, list(rows[0]))
    con.register(name, pa.Table.from_pylist(list(rows), schema=schema))
    try:
        if existing == "error":
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
        else:
            insert_rows(con, table, name, existing)
    finally:
        con.unregister(name)
    return len(rows)
