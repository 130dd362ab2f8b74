"""Moving and keeping a warehouse: copy a DuckDB file into a lake (checked
table by table), and a lake's upkeep (small files merged, old snapshots
expired, files no snapshot needs deleted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from ingest.location import Lake, location_text
from ingest.store.connection import (
    WarehouseError,
    _retry_locked,
    connect_lake,
    transaction,
    writer,
)
from ingest.store.schema import sql_literal

# Tables each warehouse fills itself when it is created (migrations, views).
_OWN = ("schema_migrations", "schema_views")


@dataclass(frozen=True)
class TableCheck:
    """One table after a copy: rows and a content hash on both sides."""

    table: str
    rows: int
    source_hash: int
    target_hash: int
    target_rows: int

    @property
    def ok(self) -> bool:
        return self.rows == self.target_rows and self.source_hash == self.target_hash


def _tables(con: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' "
        "ORDER BY table_name",
        [database],
    ).fetchall()
    return [r[0] for r in rows if r[0] not in _OWN]


def _fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> tuple[int, int]:
    """Rows and an order-free hash of their content (each row's hash, summed)."""
    sql = f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {table} t"
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def copy_warehouse(source: Path, target: Path | Lake) -> list[TableCheck]:
    """Copy the DuckDB file warehouse ``source`` into the empty warehouse
    ``target`` (a lake, usually) in one transaction, then compare every
    table's row count and content hash on both sides.

    The source is brought to the current schema first (as any run would); a
    target that holds rows already is refused."""
    if not Path(source).exists():
        raise WarehouseError(f"no warehouse at {source}")
    with writer(source):
        pass  # migrated to this version's schema, then released
    with writer(target) as con:
        here = con.execute("SELECT current_database()").fetchone()
        assert here is not None
        attach = f"ATTACH {sql_literal(str(source))} AS src (READ_ONLY)"
        _retry_locked(source, 60.0, lambda: con.execute(attach))  # a run may hold it
        try:
            versions = [
                con.execute(f"SELECT max(version) FROM {db}.schema_migrations").fetchone()
                for db in (here[0], "src")
            ]
            if versions[0] != versions[1]:
                raise WarehouseError(
                    f"{location_text(target)} is at schema {versions[0]}, the source at "
                    f"{versions[1]}"
                )
            tables = _tables(con, "src")
            full = [t for t in tables if _fingerprint(con, t)[0]]
            if full:
                raise WarehouseError(
                    f"{location_text(target)} already holds rows ({', '.join(full[:4])}); "
                    "copy into a new, empty warehouse"
                )
            with transaction(con, f"copy: from {source}"):
                for table in tables:
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM src.{table}")
            checks = []
            for table in tables:
                rows, source_hash = _fingerprint(con, f"src.{table}")
                target_rows, target_hash = _fingerprint(con, table)
                checks.append(TableCheck(table, rows, source_hash, target_hash, target_rows))
        finally:
            con.execute(f"USE {here[0]}")
            con.execute("DETACH src")
    return checks


@dataclass(frozen=True)
class Upkeep:
    """What one maintenance pass did."""

    inlined_rows_flushed: int = 0
    files_merged: int = 0
    files_rewritten: int = 0
    snapshots_expired: int = 0
    files_deleted: int = 0


def maintain(where: Path | Lake, keep_days: float, now: datetime | None = None) -> Upkeep:
    """Keep the warehouse compact. On a lake: rows kept in the catalog
    written out as data files, small adjacent files merged, files mostly
    deleted rewritten, snapshots older than ``keep_days`` expired (0: keep
    all; ``--at`` can no longer read them) and the files no kept snapshot has
    needed for a day deleted (a reader may still be on an old snapshot). On a
    DuckDB file: a checkpoint (the file's free blocks are reused).

    A lake's upkeep takes no writer lock: each step is a DuckLake transaction
    of its own that loads may run beside (a load whose commit conflicts with
    one is run again), so a long compaction never holds loads up."""
    at = now or datetime.now(UTC)
    if not isinstance(where, Lake):
        with writer(where) as con:
            con.execute("CHECKPOINT")
        return Upkeep()
    with writer(where):
        pass  # the lake exists and has this version's schema
    con = connect_lake(where)
    try:

        def call(sql: str, *params: object) -> list[tuple[object, ...]]:
            return con.execute(sql, list(params)).fetchall()

        flushed = call("CALL ducklake_flush_inlined_data('wh')")
        merged = call("CALL ducklake_merge_adjacent_files('wh')")
        rewritten = call("CALL ducklake_rewrite_data_files('wh')")
        expired: list[tuple[object, ...]] = []
        if keep_days > 0:
            before = at - timedelta(days=keep_days)
            expired = call("CALL ducklake_expire_snapshots('wh', older_than => ?)", before)
        deleted = call("CALL ducklake_cleanup_old_files('wh', older_than => ?)", at - FILE_GRACE)
    finally:
        con.close()
    return Upkeep(
        inlined_rows_flushed=sum(int(r[-1]) for r in flushed),  # type: ignore[call-overload]
        files_merged=sum(int(r[2]) for r in merged),  # type: ignore[call-overload]
        files_rewritten=len(rewritten),
        snapshots_expired=len(expired),
        files_deleted=len(deleted),
    )


# Files no kept snapshot needs are deleted this long after they stopped being
# needed: a reader that began on an older snapshot may still read them.
FILE_GRACE = timedelta(days=1)
