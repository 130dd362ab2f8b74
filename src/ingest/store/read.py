"""The read path: read-only SQL with limits, and table counts.

Imports no extraction or clustering code: ``ingest query`` stays light.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ingest.location import Lake
from ingest.store.connection import (
    READ_STATEMENTS,
    ReadOnlyViolation,
    WarehouseError,
    _open,
    _retry_locked,
    attach_lake,
    has_table,
)
from ingest.store.schema import sql_literal


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but SELECT-like statements, as DuckDB's parser types them."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise WarehouseError(f"SQL error: {exc}") from exc
    if not statements:
        raise WarehouseError("no SQL statement given")
    for st in statements:
        kind = st.type.name
        if kind not in READ_STATEMENTS:
            raise ReadOnlyViolation(
                f"refused: `ingest query` is read-only and this is a {kind} statement "
                f"({st.query.strip()[:60]!r}); the warehouse was not changed"
            )
        if kind == "SELECT" and (called := _acting_functions(con, st.query)):
            raise ReadOnlyViolation(
                f"refused: `ingest query` is read-only and {', '.join(sorted(called))} "
                "changes the session or the database; the warehouse was not changed"
            )


# Table functions that act rather than read (DuckDB lets a SELECT call them,
# and 1.5 does not stop them once the configuration is locked).
ACTING_FUNCTIONS = frozenset(
    {
        "enable_logging",
        "disable_logging",
        "truncate_duckdb_logs",
        "checkpoint",
        "force_checkpoint",
    }
)


def _acting_functions(con: duckdb.DuckDBPyConnection, sql: str) -> set[str]:
    """The acting functions a SELECT calls, from DuckDB's own parse tree."""
    row = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree = json.loads(row[0]) if row else {}
    found: set[str] = set()
    todo: list[Any] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            name = node.get("function_name")
            if isinstance(name, str) and name.lower() in ACTING_FUNCTIONS:
                found.add(name.lower())
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return found


@dataclass(frozen=True)
class ReadLimits:
    """What a query may do. By default it reads the warehouse and nothing
    else: no local files, no extensions, no settings; a time and memory bound.
    On a lake it may read an earlier snapshot (``at``: its id, or a time)."""

    allow_files: bool = False  # read local files too (e.g. staged Parquet batches)
    timeout_seconds: float = 300.0
    memory_limit: str = "4GB"
    at: str | None = None


class QueryTimeout(WarehouseError):
    pass


class NoSnapshots(WarehouseError):
    """Snapshots asked of a warehouse that keeps none (a DuckDB file)."""


def snapshots(
    where: Path | Lake, *, limit: int = 20, run_id: str | None = None, wait: float = 60.0
) -> QueryResult:
    """A lake's snapshots, newest first, with the run that made each
    (``--at`` reads any of them back)."""
    if not isinstance(where, Lake):
        raise NoSnapshots(
            f"{where} is a DuckDB file, which keeps no snapshots; a DuckLake does "
            "(README: The warehouse as a DuckLake)"
        )
    run = "commit_extra_info::JSON->>'run_id'"
    only = f"WHERE {run} = {sql_literal(run_id)}" if run_id else ""
    sql = f"""
        SELECT snapshot_id AS snapshot,
               strftime(snapshot_time, '%Y-%m-%d %H:%M:%S') AS time_utc,
               {run} AS run_id, coalesce(commit_message, '') AS what,
               array_to_string(map_keys(changes), ', ') AS changes
        FROM wh.snapshots() {only}
        ORDER BY snapshot_id DESC LIMIT {int(limit)}
    """
    return query(where, sql, wait)


@contextmanager
def _read(
    where: Path | Lake, sql: str, wait: float, limits: ReadLimits
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that reads the warehouse and nothing else (unless
    ``limits.allow_files``): statements checked by DuckDB's parser before
    anything runs; the warehouse attached read-only, then external access
    turned off and the configuration locked; a timer interrupts a query
    past ``limits.timeout_seconds``. SQL errors become :class:`WarehouseError`.

    A lake is attached read-only at its latest snapshot, which the query
    keeps while loads commit; its data files are the one place it may read."""
    if isinstance(where, Lake):
        # a PostgreSQL catalog cannot be looked for before attaching it
        missing = where.catalog == "sqlite" and not Path(where.target).exists()
        name = where.describe()
    else:
        missing, name = not Path(where).exists(), str(where)
    if missing:
        raise WarehouseError(f"no warehouse at {name}: run `ingest run` first")
    if limits.at is not None and not isinstance(where, Lake):
        raise NoSnapshots(
            f"--at reads a DuckLake as it was; {name} is a DuckDB file, which keeps no "
            "snapshots (README: The warehouse as a DuckLake)"
        )
    con = _open(":memory:", False)  # the warehouse is attached read-only
    timer: threading.Timer | None = None
    try:
        check_read_only(con, sql)
        if isinstance(where, Lake):
            attach_lake(con, where, read_only=True, wait=wait, at=limits.at)
        else:
            attach = f"ATTACH {sql_literal(str(where))} AS wh (READ_ONLY)"
            _retry_locked(where, wait, lambda: con.execute(attach))
            con.execute("USE wh")
        con.execute(f"SET memory_limit = '{limits.memory_limit}'")
        if not limits.allow_files:
            if isinstance(where, Lake):
                con.execute(f"SET allowed_directories = [{sql_literal(where.data_path)}]")
            con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        timer = threading.Timer(limits.timeout_seconds, con.interrupt)
        timer.daemon = True
        timer.start()
        yield con
    except duckdb.InterruptException as exc:
        raise QueryTimeout(
            f"the query ran longer than {limits.timeout_seconds:g}s and was stopped "
            "(INGEST_QUERY_TIMEOUT / --timeout)"
        ) from exc
    except duckdb.PermissionException as exc:
        raise ReadOnlyViolation(
            f"refused: `ingest query` reads the warehouse only ({exc}); "
            "--allow-files lets it read local files too"
        ) from exc
    except duckdb.Error as exc:
        if "read-only" in str(exc).lower() or "configuration has been locked" in str(exc):
            raise ReadOnlyViolation(f"refused: {exc}") from exc
        if isinstance(exc, duckdb.CatalogException) and not _has_schema(con):
            # a lake whose first writer has attached it but not yet committed its tables
            raise WarehouseError(
                f"the warehouse {name} holds no ingest tables (yet): run `ingest run` first"
            ) from exc
        raise WarehouseError(f"SQL error: {exc}") from exc
    finally:
        if timer is not None:
            timer.cancel()
        con.close()


def _has_schema(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        return has_table(con, "schema_migrations")
    except duckdb.Error:
        return True  # the connection cannot tell: the original error stands


@contextmanager
def reading(
    path: Path | Lake, wait: float = 60.0, limits: ReadLimits | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse for several statements of the
    project's own (an export): one snapshot of a lake throughout; the same
    limits as :func:`query`'s."""
    with _read(path, "SELECT 1", wait, limits or ReadLimits()) as con:
        yield con


def query(
    path: Path | Lake, sql: str, wait: float = 60.0, limits: ReadLimits | None = None
) -> QueryResult:
    """Run read-only SQL and return its rows."""
    with _read(path, sql, wait, limits or ReadLimits()) as con:
        con.execute(sql)
        columns = [d[0] for d in con.description or []]
        return QueryResult(columns, con.fetchall() if columns else [])


def query_head(
    path: Path | Lake,
    sql: str,
    max_rows: int,
    wait: float = 60.0,
    limits: ReadLimits | None = None,
) -> tuple[QueryResult, int]:
    """The first ``max_rows`` rows of read-only SQL, and how many rows it
    gives in all (the rest are counted as they stream past, not kept)."""
    with _read(path, sql, wait, limits or ReadLimits()) as con:
        con.execute(sql)
        columns = [d[0] for d in con.description or []]
        if not columns:
            return QueryResult([], []), 0
        rows = con.fetchmany(max_rows)
        total = len(rows)
        while chunk := con.fetchmany(10_000):
            total += len(chunk)
        return QueryResult(columns, rows), total


def query_arrow(
    path: Path | Lake, sql: str, wait: float = 60.0, limits: ReadLimits | None = None
) -> pa.Table:
    """Run read-only SQL and return an Arrow table (types kept, for Parquet)."""
    with _read(path, sql, wait, limits or ReadLimits()) as con:
        return con.sql(sql).to_arrow_table()


def open_alerts(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """The open completeness alerts, oldest first: (kind, subject, source_id,
    opened_at, evidence as text); none in a warehouse from before alerts
    (read-only readers do not migrate it)."""
    if not has_table(con, "alerts"):
        return []
    return [
        tuple(r)
        for r in con.execute(
            "SELECT kind, subject, source_id, opened_at, coalesce(evidence::VARCHAR, '') "
            "FROM alerts WHERE closed_at IS NULL ORDER BY opened_at, kind, subject"
        ).fetchall()
    ]


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = [
        "sources",
        "feeds",
        "articles",
        "sightings",
        "clusters",
        "fetch_log",
        "rejects",
        "runs",
    ]
    return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}  # type: ignore[index]
