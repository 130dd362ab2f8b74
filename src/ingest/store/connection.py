"""Opening the warehouse: connections, the lock, migrations and views.

DuckDB allows one writing process per file, and while it holds the file no
other process can open it, not even read-only. Every writer here therefore
holds the file only for one short transaction (:func:`writer`), and every
opener waits and retries on a lock for a bounded time, then says so clearly.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from ingest.location import Lake
from ingest.store import extensions
from ingest.store.schema import sql_literal

log = logging.getLogger(__name__)

_LOCKED = re.compile(r"lock|being used by another process|conflicting lock", re.IGNORECASE)


# What `ingest query` runs: SELECT-like statements as DuckDB's own parser
# types them (DESCRIBE, SHOW, SUMMARIZE and FROM-first queries are SELECTs).
# PRAGMA and EXPLAIN only read once the configuration is locked.
READ_STATEMENTS = frozenset({"SELECT", "EXPLAIN", "PRAGMA", "RELATION"})


_HOLDER = re.compile(r"PID (\d+)")


class WarehouseError(Exception):
    """A warehouse problem the CLI reports as one clear message."""


class WarehouseBusy(WarehouseError):
    pass


class ReadOnlyViolation(WarehouseError):
    pass


def _sql_dir(name: str) -> Path:
    """``warehouse/<name>`` of the source tree, or the copy inside a wheel."""
    packaged = Path(str(resources.files("ingest") / name))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "warehouse" / name


def migrations_dir() -> Path:
    return _sql_dir("migrations")


def views_dir() -> Path:
    return _sql_dir("views")


def _config(read_only: bool) -> dict[str, Any]:
    # Nothing may be downloaded at run time: no extension auto-install.
    return {"autoinstall_known_extensions": False}


def _open(path: Path | str, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (``:memory:`` for one that attaches the warehouse)."""
    con = duckdb.connect(str(path), read_only=read_only, config=_config(read_only))
    # Set after opening: DuckDB 1.5 refuses a TimeZone in the open's config
    # (its time zones come with ICU, which is loaded only once it is open).
    con.execute("SET TimeZone = 'UTC'")
    return con


def holder(message: str) -> str:
    """Who holds the warehouse, from DuckDB's lock error: the process id and
    its command line when this machine can tell, else "another process"."""
    found = _HOLDER.search(message)
    if not found:
        return "another process"
    pid = found.group(1)
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"process {pid}"
    words = [w.decode("utf-8", "replace") for w in raw.split(b"\0") if w]
    named = next(
        (i for i, w in enumerate(words) if w == "ingest.cli" or Path(w).name == "ingest"), None
    )
    if named is not None:  # `ingest run`, `python .../bin/ingest run`, `python -m ingest.cli run`
        words = ["ingest", *words[named + 1 :]]
    elif words:
        words = [Path(words[0]).name, *words[1:]]
    command = " ".join(words)[:120]
    return f"process {pid} ({command})" if command else f"process {pid}"


_NEWER_FILE = re.compile(r"database file with version number (\d+)", re.IGNORECASE)


def newer_file_hint(message: str) -> str:
    """What to do when DuckDB says the file was written by a newer DuckDB
    (this project pins the version its extensions are built for)."""
    if not _NEWER_FILE.search(message):
        return ""
    return (
        f". The file was written by a newer DuckDB than this one ({duckdb.__version__}); "
        "move it over with that DuckDB's EXPORT DATABASE and this one's IMPORT DATABASE "
        "(README: Moving a warehouse made with DuckDB 2.x)"
    )


C = TypeVar("C")


def _retry_locked(name: str | Path, wait: float, open_once: Callable[[], C]) -> C:
    """``open_once()`` retried for ``wait`` seconds while another process
    holds the file; then :class:`WarehouseBusy` naming the holder."""
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return open_once()
        except duckdb.Error as exc:
            if not _LOCKED.search(str(exc)):
                hint = newer_file_hint(str(exc))
                raise WarehouseError(f"cannot open {name}: {exc}{hint}") from exc
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"the warehouse {name} is held by {holder(str(exc))}; gave up after "
                    f"{wait:g}s. Try again shortly."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def connect(
    path: Path, *, read_only: bool = False, wait: float = 60.0
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, retrying for ``wait`` seconds while another process holds it."""
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"no warehouse at {path}: run `ingest run` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    return _retry_locked(
        path,
        wait,
        lambda: _open(path, read_only),
    )


# A table's key as our migrations declare it: after a column's type, or as
# the table's last element (its comma, and a comment after it, before it).
_TABLE_KEY = re.compile(r",([ \t]*--[^\n]*)?\s*\n\s*PRIMARY KEY\s*\([^)]*\)", re.IGNORECASE)
_COLUMN_KEY = re.compile(r"\bPRIMARY KEY\b(?!\s*\()", re.IGNORECASE)
_BOOLEAN_DEFAULT = re.compile(r"\bDEFAULT\s+(true|false)\b", re.IGNORECASE)
_KEYS_LEFT = re.compile(r"\b(PRIMARY\s+KEY|UNIQUE|CREATE\s+(UNIQUE\s+)?INDEX)\b", re.IGNORECASE)


def lake_ddl(sql: str) -> str:
    """A migration as a DuckLake takes it: no keys (a column key becomes NOT
    NULL; uniqueness is the load step's rule), boolean defaults as literals
    (DuckLake takes ``'true'``, not ``true``, as a default). A construct it
    cannot rewrite is refused, not left to fail half-way."""
    out = _TABLE_KEY.sub(lambda m: m.group(1) or "", sql)
    out = _COLUMN_KEY.sub("NOT NULL", out)
    out = _BOOLEAN_DEFAULT.sub(lambda m: f"DEFAULT '{m.group(1).lower()}'", out)
    code = re.sub(r"--[^\n]*", "", out)
    if left := _KEYS_LEFT.search(code):
        raise WarehouseError(f"a lake cannot take this migration: it declares {left.group(0)}")
    return out


def migrate(
    con: duckdb.DuckDBPyConnection, directory: Path | None = None, *, keys: bool = True
) -> list[int]:
    """Apply pending ``NNN_name.sql`` files in order, each in its own transaction,
    then the views. Without ``keys`` (a lake) each is applied as :func:`lake_ddl`
    rewrites it. A new warehouse (no schema yet) is made in one transaction, so
    a reader of a lake being created sees all of its tables or none.

    Returns the versions applied."""
    if has_table(con, "schema_migrations"):
        return _migrate(con, directory, keys, lambda: transaction(con))
    with transaction(con):
        return _migrate(con, directory, keys, contextlib.nullcontext)


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the current database holds the table ``name``."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = current_database() AND table_name = ?",
        [name],
    ).fetchone()
    return bool(row and row[0])


def _ddl_for(keys: bool) -> Callable[[str], str]:
    """DDL as written (a DuckDB file), or as :func:`lake_ddl` rewrites it."""
    return (lambda sql: sql) if keys else lake_ddl


def _migrate(
    con: duckdb.DuckDBPyConnection,
    directory: Path | None,
    keys: bool,
    step: Callable[[], contextlib.AbstractContextManager[object]],
) -> list[int]:
    ddl = _ddl_for(keys)
    con.execute(
        ddl(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ NOT NULL)"
        )
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied: list[int] = []
    for file in sorted((directory or migrations_dir()).glob("[0-9]*.sql")):
        version = int(file.name.split("_", 1)[0])
        if version in done:
            continue
        with step():
            con.execute(ddl(file.read_text(encoding="utf-8")))
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [version, file.stem, datetime.now(UTC)],
            )
        applied.append(version)
    _views(con, None, keys, step)
    return applied


def apply_views(
    con: duckdb.DuckDBPyConnection, directory: Path | None = None, *, keys: bool = True
) -> list[str]:
    """(Re)create the views of ``warehouse/views`` whose SQL changed since last time.

    Views are not migrations: they hold no data, so each file is simply the
    current definition, applied when its text changes.
    """
    return _views(con, directory, keys, lambda: transaction(con))


def _views(
    con: duckdb.DuckDBPyConnection,
    directory: Path | None,
    keys: bool,
    step: Callable[[], contextlib.AbstractContextManager[object]],
) -> list[str]:
    ddl = _ddl_for(keys)
    con.execute(
        ddl(
            "CREATE TABLE IF NOT EXISTS schema_views "
            "(name VARCHAR PRIMARY KEY, sha256 VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
    )
    applied = dict(con.execute("SELECT name, sha256 FROM schema_views").fetchall())
    changed: list[str] = []
    for file in sorted((directory or views_dir()).glob("*.sql")):
        text = file.read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode()).hexdigest()
        if applied.get(file.stem) == digest:
            continue
        with step():
            con.execute(text)
            con.execute("DELETE FROM schema_views WHERE name = ?", [file.stem])
            con.execute(
                "INSERT INTO schema_views VALUES (?, ?, ?)",
                [file.stem, digest, datetime.now(UTC)],
            )
        changed.append(file.stem)
    return changed


def snapshot_option(at: str) -> str:
    """``--at`` as an ``ATTACH`` option: a snapshot id (digits) or a time
    (anything else, as DuckDB reads a TIMESTAMPTZ; UTC unless it says)."""
    text = at.strip()
    if text.isdigit():
        return f"SNAPSHOT_VERSION {int(text)}"
    try:
        datetime.fromisoformat(text.replace(" UTC", "+00:00"))
    except ValueError:
        raise WarehouseError(
            f"--at {at!r} is neither a snapshot id nor a time (e.g. 2026-11-30 or "
            "'2026-11-30 14:00:00+00'); `ingest snapshots` lists them"
        ) from None
    return f"SNAPSHOT_TIME {sql_literal(text)}"


def attach_options(lake: Lake, *, read_only: bool = False, at: str | None = None) -> str:
    """The lake's ``ATTACH`` options: its data path, and for a SQLite catalog
    its write-ahead log (readers never block a commit) and a busy wait; a
    reader may ask for the lake as it was ``at`` a snapshot or a time."""
    options = [f"DATA_PATH {sql_literal(lake.data_path)}"]
    if lake.catalog == "sqlite":
        options += ["META_JOURNAL_MODE 'WAL'", "META_BUSY_TIMEOUT 30000"]
    if read_only:
        options.append("READ_ONLY")
    if at is not None:
        options.append(snapshot_option(at))
    return ", ".join(options)


def s3_secret(env: Mapping[str, str]) -> str | None:
    """A DuckDB secret for ``s3://`` data paths from the usual AWS variables
    (``AWS_ENDPOINT_URL`` for MinIO and other S3-compatible stores); None when
    no key is set (DuckDB then tries anonymous access)."""
    if not env.get("AWS_ACCESS_KEY_ID"):
        return None
    fields = {
        "KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "SECRET": env.get("AWS_SECRET_ACCESS_KEY", ""),
        "REGION": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
    }
    if env.get("AWS_SESSION_TOKEN"):
        fields["SESSION_TOKEN"] = env["AWS_SESSION_TOKEN"]
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    options = []
    if endpoint:
        scheme, _, host = endpoint.rpartition("://")
        fields["ENDPOINT"] = host.rstrip("/")
        fields["URL_STYLE"] = "path"
        options.append(f"USE_SSL {'false' if scheme == 'http' else 'true'}")
    body = ", ".join(["TYPE s3", *(f"{k} {sql_literal(v)}" for k, v in fields.items()), *options])
    return f"CREATE OR REPLACE SECRET ingest_lake_s3 ({body})"


def remote_data(con: duckdb.DuckDBPyConnection, data_path: str, env: Mapping[str, str]) -> None:
    """What a data path on object storage needs: the httpfs extension (from
    its wheel) and, for ``s3://``, the credentials of the environment."""
    try:
        extensions.load(con, "httpfs")
    except extensions.ExtensionUnavailable as exc:
        raise WarehouseError(str(exc)) from exc
    if data_path.startswith("s3://") and (secret := s3_secret(env)):
        con.execute(secret)


def attach_lake(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    *,
    read_only: bool = False,
    wait: float = 60.0,
    at: str | None = None,
) -> None:
    """Attach the lake to ``con`` as ``wh`` and use it (as it was ``at`` a
    snapshot or time, read-only): its extensions loaded from their wheels,
    its catalog's busy wait bounded."""
    try:
        extensions.load(con, "ducklake", f"{lake.catalog}_scanner")
    except extensions.ExtensionUnavailable as exc:
        raise WarehouseError(str(exc)) from exc
    if lake.catalog == "sqlite":
        Path(lake.target).parent.mkdir(parents=True, exist_ok=True)
    if "://" not in lake.data_path:
        Path(lake.data_path).mkdir(parents=True, exist_ok=True)
    else:
        remote_data(con, lake.data_path, os.environ)
    options = attach_options(lake, read_only=read_only, at=at)
    attach = f"ATTACH {sql_literal(lake.uri)} AS wh ({options})"
    _retry_locked(lake.describe(), wait, lambda: con.execute(attach))
    con.execute("USE wh")


def connect_lake(
    lake: Lake, *, read_only: bool = False, wait: float = 60.0
) -> duckdb.DuckDBPyConnection:
    """A connection of its own with the lake attached (see :func:`attach_lake`)."""
    con = _open(":memory:", False)  # read-only or not: the ATTACH says
    try:
        attach_lake(con, lake, read_only=read_only, wait=wait)
    except BaseException:
        con.close()
        raise
    return con


def _forget_if_broken(key: tuple[str, ...]) -> Callable[..., bool]:
    """An exit callback: drop the lake's instance when the error leaving the
    write is a broken connection (never swallows the error)."""

    def on_exit(_type: object, exc: BaseException | None, _tb: object) -> bool:
        # a connection that broke, or a catalog that changed under the instance
        broken = (
            duckdb.IOException
            | duckdb.ConnectionException
            | duckdb.FatalException
            | duckdb.CatalogException
        )
        if isinstance(exc, broken):
            _forget(key)
        return False

    return on_exit


# The writer lock's number in a lake's PostgreSQL catalog database (advisory
# locks are per database, and a database holds one lake): a constant, so every
# spelling of the same catalog and data path meets on the same lock.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"ingest writer").digest()[:8], "big", signed=True)


@contextmanager
def _file_lock(path: Path, name: str, wait: float) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``: released when the holder closes it
    or dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        delay = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"another writer has held the lake {name} for {wait:g}s; "
                        "gave up. Try again shortly."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
        yield
    finally:
        os.close(fd)


@contextmanager
def _postgres_lock(lake: Lake, wait: float) -> Iterator[None]:
    """A transaction-scoped advisory lock in the lake's PostgreSQL catalog
    database, on a connection of its own: the lock ends with that transaction,
    or with the connection when its process dies."""
    base = _instance(("lock", lake.target), lambda: _lock_instance(lake))
    con = base.cursor()
    try:
        con.execute("BEGIN")
        # the statements of one DuckDB transaction share one PostgreSQL transaction
        timeout = sql_literal(f"{max(1, int(wait * 1000))}ms")
        con.execute(
            "SELECT * FROM postgres_query('writer_lock', "
            + sql_literal(f"SELECT set_config('lock_timeout', {timeout}, true)")
            + ")"
        ).fetchall()
        try:
            con.execute(
                "SELECT * FROM postgres_query('writer_lock', "
                + sql_literal(f"SELECT pg_advisory_xact_lock({LOCK_KEY})::text")
                + ")"
            ).fetchall()
        except duckdb.Error as exc:
            if "lock timeout" not in str(exc):
                _forget(("lock", lake.target))
                raise WarehouseError(f"cannot lock {lake.describe()}: {exc}") from exc
            raise WarehouseBusy(
                f"another writer has held the lake {lake.describe()} for {wait:g}s; "
                "gave up. Try again shortly."
            ) from exc

        def still_held() -> None:
            try:
                con.execute("SELECT * FROM postgres_query('writer_lock', 'SELECT 1')").fetchall()
            except duckdb.Error as exc:
                _forget(("lock", lake.target))
                raise WarehouseError(
                    f"lost the writer lock of {lake.describe()} (its PostgreSQL session "
                    f"ended: {exc}); nothing of this write was committed"
                ) from exc

        with _holding(still_held):
            yield
    finally:
        try:
            con.execute("ROLLBACK")  # ends the transaction, and the lock with it
        except duckdb.Error as exc:
            _forget(("lock", lake.target))  # the connection is gone, and its lock
            log.error("the writer lock of %s was lost before its end: %s", lake.describe(), exc)
        con.close()


# The lock check of the writer this thread is inside (a PostgreSQL lock lives
# on a session of its own, which can end while the write goes on):
# :func:`transaction` calls it right before COMMIT.
_HELD = threading.local()


@contextmanager
def _holding(check: Callable[[], None]) -> Iterator[None]:
    before = getattr(_HELD, "check", None)
    _HELD.check = check
    try:
        yield
    finally:
        _HELD.check = before


def _check_lock() -> None:
    check = getattr(_HELD, "check", None)
    if check is not None:
        check()


def _lock_instance(lake: Lake) -> duckdb.DuckDBPyConnection:
    con = _open(":memory:", False)
    try:
        extensions.load(con, "postgres_scanner")
        con.execute(f"ATTACH {sql_literal(lake.target)} AS writer_lock (TYPE postgres)")
    except (duckdb.Error, extensions.ExtensionUnavailable) as exc:
        con.close()
        raise WarehouseError(f"cannot reach the catalog of {lake.describe()}: {exc}") from exc
    except BaseException:
        con.close()
        raise
    return con


# DuckDB instances this process keeps for its lakes: one with the lake
# attached (each write transaction takes a connection of it) and, for a
# PostgreSQL catalog, one for the writer lock. Attaching a lake loads two
# extensions and reads its catalog (0.1-0.4 s); a run writes dozens of times.
# A DuckLake transaction reads the latest snapshot when it begins, so a kept
# instance sees every other writer's commits. An instance whose connection
# broke is dropped and made again on the next write.
_INSTANCES: dict[tuple[str, ...], duckdb.DuckDBPyConnection] = {}
_INSTANCES_LOCK = threading.Lock()


def _instance(
    key: tuple[str, ...], make: Callable[[], duckdb.DuckDBPyConnection]
) -> duckdb.DuckDBPyConnection:
    with _INSTANCES_LOCK:
        found = _INSTANCES.get(key)
        if found is None:
            found = _INSTANCES[key] = make()
        return found


# The oldest snapshot a lake keeps, per kept instance, when it was attached.
# Expiring snapshots (``ingest warehouse maintain``, in any process) can drop
# catalog tables an attached instance still names (a table's rows kept in the
# catalog at an old schema version), so an instance is used only while that
# has not changed, read fresh from the catalog at each write.
_GENERATIONS: dict[tuple[str, ...], object] = {}
_GENERATION_SQL = "SELECT min(snapshot_id) FROM __ducklake_metadata_wh.ducklake_snapshot"


def _kept_lake(key: tuple[str, ...], lake: Lake, wait: float) -> duckdb.DuckDBPyConnection:
    base = _instance(key, lambda: connect_lake(lake, wait=wait))
    now = base.execute(_GENERATION_SQL).fetchone()
    if _GENERATIONS.setdefault(key, now) == now:
        return base
    _forget(key)
    base = _instance(key, lambda: connect_lake(lake, wait=wait))
    _GENERATIONS[key] = base.execute(_GENERATION_SQL).fetchone()
    return base


def _forget(key: tuple[str, ...]) -> None:
    """Drop a kept instance from the cache. It is not closed: other threads'
    connections of it (one may hold the writer lock) keep it alive until
    they end."""
    with _INSTANCES_LOCK:
        _INSTANCES.pop(key, None)
        _GENERATIONS.pop(key, None)


def close_lakes() -> None:
    """Close the lake instances this process keeps (tests, and a process that
    is done writing: nothing of it may be writing then)."""
    with _INSTANCES_LOCK:
        kept = list(_INSTANCES.values())
        _INSTANCES.clear()
        _GENERATIONS.clear()
    for found in kept:
        with contextlib.suppress(duckdb.Error):
            found.close()
    _MIGRATED.difference_update({k for k in _MIGRATED if k[1] == 0})  # lakes: checked again


def write_lock(lake: Lake, wait: float) -> contextlib.AbstractContextManager[None]:
    """One writer at a time per lake, wherever it runs.

    A DuckLake has no unique keys, and it retries an insert-only commit that
    raced another by itself: two loaders that each find an article missing
    would both insert it. Writers therefore take this lock before their
    transaction begins (so each reads what the one before committed): a
    ``flock`` beside a SQLite catalog (its writers share one machine), a
    PostgreSQL advisory lock in a PostgreSQL catalog (its writers meet there
    from any machine). Readers take no lock."""
    if lake.catalog == "sqlite":
        return _file_lock(Path(lake.target + ".writer-lock"), lake.describe(), wait)
    return _postgres_lock(lake, wait)


@contextmanager
def writer(where: Path | Lake, wait: float = 120.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived migrated write connection to the warehouse file (released
    on exit) or to the lake (holding its :func:`write_lock` meanwhile)."""
    with contextlib.ExitStack() as stack:
        if isinstance(where, Lake):
            stack.enter_context(write_lock(where, wait))
            lake = where
            instance = ("lake", lake.uri, lake.data_path)
            con = _kept_lake(instance, lake, wait).cursor()
            stack.callback(con.close)
            stack.push(_forget_if_broken(instance))
            con.execute("USE wh")
            con.execute("SET TimeZone = 'UTC'")
            key: tuple[str, int] = (where.uri, 0)
        else:
            con = connect(where, wait=wait)
            # the same file (by inode): a file deleted and created again is new
            key = (str(Path(where).resolve()), Path(where).stat().st_ino)
            stack.callback(con.close)
        if key not in _MIGRATED:
            migrate(con, keys=not isinstance(where, Lake))
            _MIGRATED.add(key)
        yield con


_CONFLICT = re.compile(r"conflict|database is locked", re.IGNORECASE)
T = TypeVar("T")


def retrying(
    where: Path | Lake,
    work: Callable[[duckdb.DuckDBPyConnection], T],
    *,
    attempts: int = 5,
    wait: float = 120.0,
) -> T:
    """``work`` in a :func:`writer`, run again from the start (a new
    transaction over what is committed by then) when its commit conflicts with
    another writer's: one that took no lake lock, such as a DuckDB client
    writing to the lake itself."""
    for attempt in range(1, attempts + 1):
        try:
            with writer(where, wait=wait) as con:
                return work(con)
        except duckdb.TransactionException as exc:
            if attempt == attempts or not _CONFLICT.search(str(exc)):
                raise
            log.warning("commit conflict (attempt %d of %d), retrying: %s", attempt, attempts, exc)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


@contextmanager
def transaction(
    con: duckdb.DuckDBPyConnection, message: str | None = None, run_id: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction; on a lake, its snapshot carries ``message`` and the
    run (``ingest snapshots`` lists them)."""
    con.execute("BEGIN")
    try:
        if message:
            name_commit(con, message, run_id)
        yield con
        _check_lock()  # a lake's writer still holds its lock
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


COMMIT_AUTHOR = "ingest"


def is_lake(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return bool(row and row[0] == "ducklake")


def name_commit(con: duckdb.DuckDBPyConnection, message: str, run_id: str | None = None) -> None:
    """Name the snapshot the open transaction will make on a lake: author
    ``ingest``, ``message``, and ``{"run_id": ...}`` as its extra information.
    Nothing on a DuckDB file (it keeps no snapshots)."""
    if is_lake(con):
        con.execute(
            "CALL set_commit_message(?, ?, extra_info => ?)",
            [COMMIT_AUTHOR, message, json.dumps({"run_id": run_id}) if run_id else None],
        )


# Warehouse files this process has migrated: a writer opens the file for every
# batch, and checking the migrations and views each time costs more than the
# load itself.
_MIGRATED: set[tuple[str, int]] = set()
