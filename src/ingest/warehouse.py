"""The DuckDB warehouse: migrations, the write path and read-only queries.

DuckDB allows one writing process per file, and while it holds the file no
other process can open it, not even read-only. Every writer here therefore
holds the file only for one short transaction (:func:`writer`), and every
opener waits and retries on a lock for a bounded time, then says so clearly.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ingest.backfill import PlanItem
from ingest.dedup import (
    Candidate,
    Known,
    Listing,
    Member,
    Resolution,
    Revision,
    Stored,
    StoryItem,
    assign_clusters,
    cluster_id_for,
    diff,
    resolve,
    story_item,
)
from ingest.near import Fingerprint, fingerprint
from ingest.records import Article, BodyStatus, Extracted, FeedEntry, FetchResult, PendingPage
from ingest.registry import Registry, feed_id_for
from ingest.robots import RobotsRecord
from ingest.schedule import FeedHistory

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
    return Path(__file__).resolve().parents[2] / "warehouse" / name


def migrations_dir() -> Path:
    return _sql_dir("migrations")


def views_dir() -> Path:
    return _sql_dir("views")


def _config(read_only: bool) -> dict[str, Any]:
    # Nothing may be downloaded at run time: no extension auto-install.
    return {"autoinstall_known_extensions": False, "TimeZone": "UTC"}


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


C = TypeVar("C")


def _retry_locked(path: Path, wait: float, open_once: Callable[[], C]) -> C:
    """``open_once()`` retried for ``wait`` seconds while another process
    holds the file; then :class:`WarehouseBusy` naming the holder."""
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return open_once()
        except (duckdb.IOException, duckdb.BinderException, duckdb.CatalogException) as exc:
            if not _LOCKED.search(str(exc)):
                raise WarehouseError(f"cannot open {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"the warehouse {path} is held by {holder(str(exc))}; gave up after "
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
        lambda: duckdb.connect(str(path), read_only=read_only, config=_config(read_only)),
    )


def migrate(con: duckdb.DuckDBPyConnection, directory: Path | None = None) -> list[int]:
    """Apply pending ``NNN_name.sql`` files in order, each in its own transaction.

    Returns the versions applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied: list[int] = []
    for file in sorted((directory or migrations_dir()).glob("[0-9]*.sql")):
        version = int(file.name.split("_", 1)[0])
        if version in done:
            continue
        con.execute("BEGIN")
        try:
            con.execute(file.read_text(encoding="utf-8"))
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [version, file.stem, datetime.now(UTC)],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    apply_views(con)
    return applied


def apply_views(con: duckdb.DuckDBPyConnection, directory: Path | None = None) -> list[str]:
    """(Re)create the views of ``warehouse/views`` whose SQL changed since last time.

    Views are not migrations: they hold no data, so each file is simply the
    current definition, applied when its text changes.
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_views "
        "(name VARCHAR PRIMARY KEY, sha256 VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    applied = dict(con.execute("SELECT name, sha256 FROM schema_views").fetchall())
    changed: list[str] = []
    for file in sorted((directory or views_dir()).glob("*.sql")):
        text = file.read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode()).hexdigest()
        if applied.get(file.stem) == digest:
            continue
        with transaction(con):
            con.execute(text)
            con.execute(
                "INSERT OR REPLACE INTO schema_views VALUES (?, ?, ?)",
                [file.stem, digest, datetime.now(UTC)],
            )
        changed.append(file.stem)
    return changed


# Warehouse files this process has migrated: a writer opens the file for every
# batch, and checking the migrations and views each time costs more than the
# load itself.
_MIGRATED: set[tuple[str, int]] = set()


@contextmanager
def writer(path: Path, wait: float = 120.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived migrated write connection; the file is released on exit."""
    con = connect(path, wait=wait)
    try:
        # the same file (by inode): a file deleted and created again is new
        key = (str(Path(path).resolve()), Path(path).stat().st_ino)
        if key not in _MIGRATED:
            migrate(con)
            _MIGRATED.add(key)
        yield con
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# --------------------------------------------------------------------------- registry


class RegistryChangeRefused(WarehouseError):
    """The registry would drop or change what stored articles use, or is
    another file than the one the warehouse was synced with."""


SHIPPED = "(shipped)"


def registry_path(registry: Registry, shipped: Path | None = None) -> str:
    """How a sync names its registry: ``(shipped)`` for the one in the package
    (whatever the install path), an absolute path for a file, else its name."""
    origin = Path(registry.origin)
    if not origin.is_file():
        return registry.origin
    if shipped is not None and shipped.is_file() and origin.resolve() == shipped.resolve():
        return SHIPPED
    return str(origin.resolve())


def _a_file(path: str) -> bool:
    """A registry read from a file (not built in memory by a library user)."""
    return path == SHIPPED or Path(path).is_absolute()


def registry_conflicts(con: duckdb.DuckDBPyConnection, registry: Registry, path: str) -> list[str]:
    """What syncing ``registry`` would do that the warehouse must not do
    silently: another registry file than the last sync's, or a source,
    domain, credit or kind that stored articles use dropped or changed.
    Adding sources, feeds, domains or credits is never a conflict."""
    problems: list[str] = []
    last = con.execute("SELECT path FROM registry_syncs ORDER BY synced_at DESC LIMIT 1").fetchone()
    if last is not None and last[0] != path and _a_file(path) and _a_file(last[0]):
        problems.append(f"this warehouse was last synced with {last[0]}, not {path}")
    used = con.execute("""
        WITH use AS (
            SELECT source_id, count(*) AS n FROM articles GROUP BY ALL
            UNION ALL
            SELECT wire_service, count(*) FROM articles WHERE wire_service IS NOT NULL GROUP BY ALL
        )
        SELECT s.source_id, s.kind, s.domains, s.credits, sum(use.n)::BIGINT
        FROM sources s JOIN use USING (source_id) GROUP BY ALL ORDER BY 1
    """).fetchall()
    for source_id, kind, domains, credits, n in used:
        new = registry.get(source_id)
        what = f"source {source_id!r} ({n} stored article(s) use it)"
        if new is None:
            problems.append(f"{what} is not in the registry")
            continue
        if new.kind != kind:
            problems.append(f"{what} would change kind from {kind} to {new.kind}")
        if lost := sorted(set(domains or ()) - set(new.domains)):
            problems.append(f"{what} would lose domain(s) {', '.join(lost)}")
        if lost := sorted(set(credits or ()) - set(new.credits)):
            problems.append(f"{what} would lose credit(s) {', '.join(lost)}")
    return problems


def sync_registry(
    con: duckdb.DuckDBPyConnection,
    registry: Registry,
    now: datetime,
    *,
    accept_change: bool = False,
    run_id: str | None = None,
    shipped: Path | None = None,
) -> None:
    """Make ``sources`` and ``feeds`` match the registry (feed state is kept)
    and record the sync (path and content hash).

    Raises :class:`RegistryChangeRefused` when the registry is another file
    than the last sync's, or would drop or change a source, domain, credit or
    kind that stored articles use, unless ``accept_change``."""
    path = registry_path(registry, shipped)
    problems = registry_conflicts(con, registry, path)
    if problems and not accept_change:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise RegistryChangeRefused(
            f"refused to sync the registry {registry.origin} into this warehouse:\n{lines}\n"
            "Nothing was changed. If this is intended, run the command again with "
            "--accept-registry-change."
        )
    sources = pa.Table.from_pylist(
        [
            {
                "source_id": s.source_id,
                "name": s.name,
                "kind": s.kind,
                "domains": list(s.domains),
                "homepage": s.homepage,
                "country": s.country,
                "language": s.language,
                "credits": list(s.credits),
                "sitemaps": list(s.sitemaps),
                "timezone": s.timezone,
                "updated_at": now,
            }
            for s in registry
        ],
        schema=pa.schema(
            [
                ("source_id", pa.string()),
                ("name", pa.string()),
                ("kind", pa.string()),
                ("domains", pa.list_(pa.string())),
                ("homepage", pa.string()),
                ("country", pa.string()),
                ("language", pa.string()),
                ("credits", pa.list_(pa.string())),
                ("sitemaps", pa.list_(pa.string())),
                ("timezone", pa.string()),
                ("updated_at", pa.timestamp("us", tz="UTC")),
            ]
        ),
    )
    feeds = pa.Table.from_pylist(
        [
            {"feed_id": fid, "source_id": s.source_id, "url": url}
            for fid, s, url in registry.feeds()
        ],
        schema=pa.schema(
            [("feed_id", pa.string()), ("source_id", pa.string()), ("url", pa.string())]
        ),
    )
    with transaction(con):
        con.register("reg_sources", sources)
        con.register("reg_feeds", feeds)
        con.execute("""
            MERGE INTO sources AS t USING reg_sources AS s ON t.source_id = s.source_id
            WHEN MATCHED AND (t.name, t.kind, t.domains, t.homepage, t.country, t.language,
                              t.credits, t.sitemaps, t.timezone)
                      IS DISTINCT FROM (s.name, s.kind, s.domains, s.homepage, s.country,
                              s.language, s.credits, s.sitemaps, s.timezone)
                THEN UPDATE SET name = s.name, kind = s.kind, domains = s.domains,
                     homepage = s.homepage, country = s.country, language = s.language,
                     credits = s.credits, sitemaps = s.sitemaps, timezone = s.timezone,
                     updated_at = s.updated_at
            WHEN NOT MATCHED THEN INSERT BY NAME
        """)
        con.execute("""
            MERGE INTO feeds AS t USING reg_feeds AS s ON t.feed_id = s.feed_id
            WHEN MATCHED AND (t.source_id <> s.source_id OR NOT t.in_registry)
                THEN UPDATE SET source_id = s.source_id, in_registry = true
            WHEN NOT MATCHED THEN INSERT (feed_id, source_id, url, registry_url)
                VALUES (s.feed_id, s.source_id, s.url, s.url)
        """)
        con.execute("""
            UPDATE feeds SET in_registry = false
            WHERE in_registry AND feed_id NOT IN (SELECT feed_id FROM reg_feeds)
        """)
        con.unregister("reg_sources")
        con.unregister("reg_feeds")
        con.execute(
            "INSERT INTO registry_syncs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                now,
                path,
                registry.sha256,
                len(registry),
                sum(1 for _ in registry.feeds()),
                run_id,
                "; ".join(problems) if problems else None,
            ],
        )


@dataclass(frozen=True)
class DueFeed:
    feed_id: str
    source_id: str
    url: str
    etag: str | None
    last_modified: str | None
    consecutive_failures: int = 0
    last_fetched_at: datetime | None = None
    interval_minutes: int | None = None
    new_per_hour: float | None = None
    failure_kind: str | None = None

    @property
    def history(self) -> FeedHistory:
        return FeedHistory(
            last_fetched_at=self.last_fetched_at,
            interval_minutes=self.interval_minutes,
            new_per_hour=self.new_per_hour,
            consecutive_failures=self.consecutive_failures,
            failure_kind=self.failure_kind,
        )


def due_feeds(
    con: duckdb.DuckDBPyConnection,
    now: datetime,
    *,
    all_feeds: bool = False,
    source_ids: Sequence[str] = (),
) -> list[DueFeed]:
    """Enabled registry feeds whose next poll has come (all of them with ``all_feeds``)."""
    sql = """
        SELECT feed_id, source_id, url, etag, last_modified, consecutive_failures,
               last_fetched_at, interval_minutes, new_per_hour, failure_kind
        FROM feeds
        WHERE in_registry AND NOT disabled
          AND (? OR next_fetch_at IS NULL OR next_fetch_at <= ?)
          AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], source_id))
        ORDER BY next_fetch_at NULLS FIRST, feed_id
    """
    ids = list(source_ids)
    rows = con.execute(sql, [all_feeds, now, ids, ids]).fetchall()
    return [DueFeed(*row) for row in rows]


def robots_records(con: duckdb.DuckDBPyConnection, now: datetime) -> list[RobotsRecord]:
    rows = con.execute(
        "SELECT origin, fetched_at, expires_at, status, outcome, body FROM robots "
        "WHERE expires_at > ?",
        [now],
    ).fetchall()
    return [RobotsRecord(*row) for row in rows]


def enable_feeds(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[tuple[str, str]]:
    """Re-enable the feeds of these sources (or these feed ids / URLs); due at once."""
    rows = con.execute(
        """
        UPDATE feeds SET disabled = false, disabled_reason = NULL, disabled_at = NULL,
               consecutive_failures = 0, failure_kind = NULL, next_fetch_at = NULL
        WHERE disabled AND (list_contains(?::VARCHAR[], source_id)
                            OR list_contains(?::VARCHAR[], feed_id)
                            OR list_contains(?::VARCHAR[], url))
        RETURNING feed_id, url
        """,
        [list(ids), list(ids), list(ids)],
    ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def known_urls(con: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(urls))
    if not wanted:
        return {}
    table = pa.table({"url": pa.array(wanted, pa.string())})
    con.register("wanted_urls", table)
    try:
        rows = con.execute(
            "SELECT u.url, u.article_id FROM article_urls u JOIN wanted_urls w USING (url)"
        ).fetchall()
    finally:
        con.unregister("wanted_urls")
    return dict(rows)


@dataclass(frozen=True)
class KnownListing:
    article_id: str
    entry_title: str | None
    entry_updated_at: datetime | None
    body_status: str = BodyStatus.PAGE


def known_listings(con: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, KnownListing]:
    """Known URLs with what the feed said of their article last time."""
    wanted = sorted(set(urls))
    if not wanted:
        return {}
    con.register("wanted_urls", pa.table({"url": pa.array(wanted, pa.string())}))
    try:
        rows = con.execute("""
            SELECT u.url, u.article_id, a.entry_title, a.entry_updated_at,
                   coalesce(a.body_status, 'page')
            FROM article_urls u JOIN wanted_urls w USING (url)
            JOIN articles a USING (article_id)
        """).fetchall()
    finally:
        con.unregister("wanted_urls")
    return {url: KnownListing(a, t, u, b) for url, a, t, u, b in rows}


def pending_keys(con: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> set[tuple[str, str]]:
    """(url, feed_id) of these links that wait in ``pending_pages``."""
    wanted = sorted(set(urls))
    if not wanted:
        return set()
    con.register("wanted_urls", pa.table({"url": pa.array(wanted, pa.string())}))
    try:
        rows = con.execute(
            "SELECT p.url, p.feed_id FROM pending_pages p JOIN wanted_urls w USING (url)"
        ).fetchall()
    finally:
        con.unregister("wanted_urls")
    return {(u, f) for u, f in rows}


# --------------------------------------------------------------------------- load


@dataclass(frozen=True)
class FeedUpdate:
    feed_id: str
    fetched_at: datetime
    outcome: str
    status: int | None
    error: str | None
    next_fetch_at: datetime
    consecutive_failures: int
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None
    entries: int | None = None
    ttl_minutes: int | None = None
    interval_minutes: int | None = None
    new_per_hour: float | None = None
    new_entries: int | None = None
    failure_kind: str | None = None
    disabled_reason: str | None = None
    moved_to: str | None = None  # a 301/308 moved the feed here
    old_url: str | None = None


@dataclass(frozen=True)
class Reject:
    stage: str
    reason: str
    at: datetime
    url: str | None = None
    feed_id: str | None = None


@dataclass(frozen=True)
class RawPage:
    url: str
    final_url: str | None
    fetched_at: datetime
    sha256: str
    bytes: int
    status: int | None
    content_type: str | None


@dataclass
class LoadBatch:
    run_id: str
    candidates: list[Candidate] = field(default_factory=list)
    listings: list[Listing] = field(default_factory=list)
    fetches: list[tuple[FetchResult, str | None]] = field(default_factory=list)
    feed_updates: list[FeedUpdate] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    robots: list[RobotsRecord] = field(default_factory=list)
    cluster_window_days: int = 30
    raw_pages: list[RawPage] = field(default_factory=list)
    backfill_id: str | None = None
    done: dict[str, str] = field(default_factory=dict)  # backfill checkpoints: url -> outcome
    # Links whose page is still to come (queued or to retry), and links that
    # left the queue (url, feed_id): their page came, or failed for good.
    pending: list[PendingPage] = field(default_factory=list)
    pending_done: list[tuple[str, str]] = field(default_factory=list)

    def spend(self) -> None:
        """Drop the rows of a batch that has been written."""
        for rows in (
            self.candidates,
            self.listings,
            self.fetches,
            self.feed_updates,
            self.rejects,
            self.robots,
            self.raw_pages,
            self.pending,
            self.pending_done,
        ):
            rows.clear()
        self.done.clear()


TS = pa.timestamp("us", tz="UTC")
# What the metadata step adds to an article (rows and revisions alike).
METADATA_COLUMNS = [
    ("authors", pa.list_(pa.string())),
    ("published_precision", pa.string()),
    ("modified_at", TS),
    ("description", pa.string()),
    ("image_url", pa.string()),
    ("section", pa.string()),
    ("keywords", pa.list_(pa.string())),
    ("metadata_sources", pa.map_(pa.string(), pa.string())),
]
ARTICLE_SCHEMA = pa.schema(
    [
        ("article_id", pa.string()),
        ("canonical_url", pa.string()),
        ("url", pa.string()),
        ("source_id", pa.string()),
        ("title", pa.string()),
        ("body", pa.string()),
        ("author", pa.string()),
        ("published_at", TS),
        ("language", pa.string()),
        ("word_count", pa.int32()),
        ("content_hash", pa.string()),
        ("cluster_id", pa.string()),
        ("wire_service", pa.string()),
        ("extractor", pa.string()),
        ("first_seen_at", TS),
        ("last_seen_at", TS),
        ("feed_id", pa.string()),
        ("run_id", pa.string()),
        ("entry_title", pa.string()),
        ("entry_updated_at", TS),
        ("cluster_score", pa.float64()),
        ("body_status", pa.string()),
        ("body_reason", pa.string()),
        *METADATA_COLUMNS,
    ]
)
PENDING_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("feed_id", pa.string()),
        ("source_id", pa.string()),
        ("kind", pa.string()),
        ("link", pa.string()),
        ("guid", pa.string()),
        ("title", pa.string()),
        ("summary", pa.string()),
        ("content", pa.string()),
        ("author", pa.string()),
        ("published_at", TS),
        ("updated_at", TS),
        ("language", pa.string()),
        ("via", pa.string()),
        ("first_seen_at", TS),
        ("attempts", pa.int32()),
        ("next_attempt_at", TS),
        ("last_reason", pa.string()),
        ("last_run_id", pa.string()),
    ]
)
BAND_SCHEMA = pa.schema(
    [
        ("band", pa.int16()),
        ("bucket", pa.int64()),
        ("article_id", pa.string()),
        ("story_at", TS),
    ]
)
SIGHTING_SCHEMA = pa.schema(
    [
        ("article_id", pa.string()),
        ("feed_id", pa.string()),
        ("source_id", pa.string()),
        ("seen_at", TS),
        ("run_id", pa.string()),
        ("url", pa.string()),
        ("via", pa.string()),
        ("backfill_id", pa.string()),
    ]
)
FETCH_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("url", pa.string()),
        ("kind", pa.string()),
        ("status", pa.int32()),
        ("outcome", pa.string()),
        ("error", pa.string()),
        ("bytes", pa.int64()),
        ("elapsed_ms", pa.int32()),
        ("fetched_at", TS),
        ("final_url", pa.string()),
        ("feed_id", pa.string()),
    ]
)
REJECT_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("feed_id", pa.string()),
        ("url", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("rejected_at", TS),
    ]
)
FEED_UPDATE_SCHEMA = pa.schema(
    [
        ("feed_id", pa.string()),
        ("fetched_at", TS),
        ("outcome", pa.string()),
        ("status", pa.int32()),
        ("error", pa.string()),
        ("next_fetch_at", TS),
        ("consecutive_failures", pa.int32()),
        ("etag", pa.string()),
        ("last_modified", pa.string()),
        ("title", pa.string()),
        ("entries", pa.int32()),
        ("ttl_minutes", pa.int32()),
        ("interval_minutes", pa.int32()),
        ("new_per_hour", pa.float64()),
        ("new_entries", pa.int32()),
        ("failure_kind", pa.string()),
        ("disabled_reason", pa.string()),
        ("moved_to", pa.string()),
        ("old_url", pa.string()),
    ]
)
RAW_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("final_url", pa.string()),
        ("fetched_at", TS),
        ("sha256", pa.string()),
        ("bytes", pa.int64()),
        ("status", pa.int32()),
        ("content_type", pa.string()),
        ("run_id", pa.string()),
    ]
)
PLAN_SCHEMA = pa.schema(
    [
        ("backfill_id", pa.string()),
        ("url", pa.string()),
        ("source_id", pa.string()),
        ("input", pa.string()),
        ("via", pa.string()),
        ("published_at", TS),
        ("title", pa.string()),
        ("position", pa.int32()),
        ("warc_offset", pa.int64()),
    ]
)
DONE_SCHEMA = pa.schema(
    [
        ("backfill_id", pa.string()),
        ("url", pa.string()),
        ("outcome", pa.string()),
        ("done_at", TS),
    ]
)
ROBOTS_SCHEMA = pa.schema(
    [
        ("origin", pa.string()),
        ("fetched_at", TS),
        ("expires_at", TS),
        ("status", pa.int32()),
        ("outcome", pa.string()),
        ("body", pa.string()),
    ]
)


def _insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: list[dict[str, Any]],
    schema: pa.Schema,
    verb: str = "INSERT",
) -> int:
    if not rows:
        return 0
    name = f"batch_{table}"
    con.register(name, pa.Table.from_pylist(rows, schema=schema))
    try:
        con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM {name}")
    finally:
        con.unregister(name)
    return len(rows)


def _fetch_row(run_id: str, f: FetchResult, feed_id: str | None) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "url": f.url,
        "kind": str(f.kind),
        "status": f.status,
        "outcome": str(f.outcome),
        "error": f.error,
        "bytes": f.nbytes,
        "elapsed_ms": f.elapsed_ms,
        "fetched_at": f.fetched_at,
        "final_url": f.final_url,
        "feed_id": feed_id,
    }


def _reject_row(run_id: str, r: Reject) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "feed_id": r.feed_id,
        "url": r.url,
        "stage": r.stage,
        "reason": r.reason,
        "rejected_at": r.at,
    }


def _lookup(con: duckdb.DuckDBPyConnection, batch: LoadBatch) -> Known:
    urls = {u for c in batch.candidates for u in c.urls} | {lst.entry.url for lst in batch.listings}
    pairs = sorted({(c.source_id, c.content_hash) for c in batch.candidates})
    by_hash: dict[tuple[str, str], str] = {}
    if pairs:
        con.register(
            "wanted_hashes",
            pa.table({"source_id": [p[0] for p in pairs], "content_hash": [p[1] for p in pairs]}),
        )
        try:
            rows = con.execute("""
                SELECT a.source_id, a.content_hash, min(a.article_id)
                FROM articles a JOIN wanted_hashes w USING (source_id, content_hash)
                GROUP BY ALL
            """).fetchall()
        finally:
            con.unregister("wanted_hashes")
        by_hash = {(s, h): a for s, h, a in rows}
    by_url = known_urls(con, urls)
    stored: dict[str, Stored] = {}
    if by_url:
        ids = sorted(set(by_url.values()))
        rows = con.execute(
            "SELECT article_id, content_hash, title, coalesce(revision, 0), author, published_at, "
            "language, wire_service, coalesce(body_status, 'page') FROM articles "
            "WHERE list_contains(?::VARCHAR[], article_id)",
            [ids],
        ).fetchall()
        stored = {row[0]: Stored(row[1], row[2], int(row[3]), *row[4:]) for row in rows}
    return Known(by_url=by_url, by_hash=by_hash, stored=stored)


# Stored candidates verified per new article (the best by shared bands).
MAX_CANDIDATES = 8
# Shingle sets of recently matched articles, by article id + content hash: the
# same recent articles are candidates for batch after batch. Kept as packed
# uint32 arrays (3 KB for an 800-word text): as a frozenset of Python ints the
# same set takes about 50 KB, and 2,048 of them were a tenth of the process.
_MEMBER_CACHE: OrderedDict[str, tuple[npt.NDArray[np.uint32], int]] = OrderedDict()
MEMBER_CACHE_SIZE = 2048


def _member_fingerprint(key: str, body: str | None) -> Fingerprint:
    cached = _MEMBER_CACHE.get(key)
    if cached is not None:
        _MEMBER_CACHE.move_to_end(key)
        packed, words = cached
        return Fingerprint(frozenset(packed.tolist()), words, ())
    fp = fingerprint(body or "", with_bands=False)
    _MEMBER_CACHE[key] = (np.fromiter(fp.shingles, np.uint32, len(fp.shingles)), fp.word_count)
    while len(_MEMBER_CACHE) > MEMBER_CACHE_SIZE:
        _MEMBER_CACHE.popitem(last=False)
    return fp


def _story_candidates(
    con: duckdb.DuckDBPyConnection, items: Sequence[StoryItem], window_days: int
) -> dict[str, list[Member]]:
    """Stored articles that share an LSH band with each item and lie within
    the time window: item article id -> candidate members (the best
    ``MAX_CANDIDATES`` by shared bands). An item is never its own candidate."""
    new_bands = [
        {"article_id": i.article_id, "band": b, "bucket": k, "story_at": i.story_at}
        for i in items
        if i.fingerprint.matchable
        for b, k in i.fingerprint.bands
    ]
    if not new_bands:
        return {}
    times = [i.story_at for i in items]
    lo = min(times) - timedelta(days=window_days)
    hi = max(times) + timedelta(days=window_days)
    con.register("new_bands", pa.Table.from_pylist(new_bands, schema=BAND_SCHEMA))
    try:
        pairs = con.execute(
            """
            SELECT n.article_id AS new_id, b.article_id
            FROM new_bands n JOIN article_bands b USING (band, bucket)
            WHERE b.story_at BETWEEN n.story_at - to_days(?) AND n.story_at + to_days(?)
              -- constant bounds too: bands are appended in time order, so
              -- DuckDB's zone maps skip every row group outside the window
              -- and the lookup reads the window, not the whole history
              AND b.story_at BETWEEN ? AND ?
              AND b.article_id <> n.article_id
            GROUP BY n.article_id, b.article_id
            -- verify only the candidates sharing the most bands (the most
            -- similar by MinHash's estimate): the cost per article stays
            -- bounded however many articles share a common phrase
            QUALIFY row_number() OVER (PARTITION BY new_id ORDER BY count(*) DESC,
                                       b.article_id) <= ?
            """,
            [window_days, window_days, lo, hi, MAX_CANDIDATES],
        ).fetchall()
    finally:
        con.unregister("new_bands")
    wanted = sorted({old for _, old in pairs})
    members: dict[str, Member] = {}
    if wanted:
        for article_id, cluster_id, content, body in con.execute(
            "SELECT article_id, cluster_id, content_hash, "
            "CASE WHEN list_contains(?::VARCHAR[], article_id || content_hash) THEN NULL "
            "ELSE body END FROM articles WHERE list_contains(?::VARCHAR[], article_id)",
            [list(_MEMBER_CACHE), wanted],
        ).fetchall():
            members[article_id] = Member(
                article_id, cluster_id, _member_fingerprint(article_id + content, body)
            )
    candidates: dict[str, list[Member]] = {}
    for new_id, old in pairs:
        if old in members:
            candidates.setdefault(new_id, []).append(members[old])
    return candidates


def _place_stories(
    con: duckdb.DuckDBPyConnection,
    items: Sequence[StoryItem],
    window_days: int,
    exclude: Iterable[str] = (),
) -> dict[str, tuple[str, float | None]]:
    """The story of each item (new articles, or stored ones whose text
    changed), by the one clustering rule of :func:`ingest.dedup.assign_clusters`.
    ``exclude``: stored articles whose own rows must not count as an exact copy
    (the revised articles themselves)."""
    if not items:
        return {}
    hashes = sorted({i.content_hash for i in items})
    same_text = dict(
        con.execute(
            "SELECT content_hash, arg_min(cluster_id, first_seen_at) FROM articles "
            "WHERE list_contains(?::VARCHAR[], content_hash) "
            "AND NOT list_contains(?::VARCHAR[], article_id) GROUP BY ALL",
            [hashes, sorted(exclude)],
        ).fetchall()
    )
    return assign_clusters(items, _story_candidates(con, items, window_days), same_text)


def _cluster_new(
    con: duckdb.DuckDBPyConnection, res: Resolution, window_days: int
) -> list[Article]:
    """Near-duplicate clustering of the batch's new articles against the warehouse."""
    items = [story_item(a, res.fingerprints[a.article_id]) for a in res.articles]
    placed = _place_stories(con, items, window_days)
    return [
        replace(a, cluster_id=placed[a.article_id][0], cluster_score=placed[a.article_id][1])
        for a in res.articles
    ]


def _insert_bands(con: duckdb.DuckDBPyConnection, items: Sequence[StoryItem]) -> None:
    _insert(
        con,
        "article_bands",
        [
            {"band": b, "bucket": k, "article_id": i.article_id, "story_at": i.story_at}
            for i in items
            if i.fingerprint.matchable
            for b, k in i.fingerprint.bands
        ],
        BAND_SCHEMA,
    )


def _recluster(
    con: duckdb.DuckDBPyConnection, revised: Mapping[str, Fingerprint], window_days: int
) -> set[str]:
    """Stored articles whose text changed: new bands, and the story each now
    belongs to. Returns the clusters to refresh (old and new)."""
    if not revised:
        return set()
    ids = sorted(revised)
    rows = con.execute(
        "SELECT article_id, content_hash, coalesce(published_at, first_seen_at), cluster_id "
        "FROM articles WHERE list_contains(?::VARCHAR[], article_id)",
        [ids],
    ).fetchall()
    items = [StoryItem(a, h, when, revised[a]) for a, h, when, _ in rows]
    before = {a: c for a, _, _, c in rows}
    con.execute("DELETE FROM article_bands WHERE list_contains(?::VARCHAR[], article_id)", [ids])
    placed = _place_stories(con, items, window_days, exclude=ids)
    _insert_bands(con, items)
    moved = {a: p for a, p in placed.items() if p[0] != before[a]}
    if moved:
        con.executemany(
            "UPDATE articles SET cluster_id = ?, cluster_score = ? WHERE article_id = ?",
            [[c, score, a] for a, (c, score) in moved.items()],
        )
    return set(before.values()) | {c for c, _ in placed.values()}


def load_batch(con: duckdb.DuckDBPyConnection, batch: LoadBatch) -> dict[str, int]:
    """Write one batch in one transaction; idempotent. Returns what was written."""
    with transaction(con):
        return _write_batch(con, batch)


def merge_batches(batches: Sequence[LoadBatch]) -> LoadBatch:
    """Several batches of one run as one (rows in order)."""
    first = batches[0]
    merged = LoadBatch(
        first.run_id, cluster_window_days=first.cluster_window_days, backfill_id=first.backfill_id
    )
    for b in batches:
        merged.candidates += b.candidates
        merged.listings += b.listings
        merged.fetches += b.fetches
        merged.feed_updates += b.feed_updates
        merged.rejects += b.rejects
        merged.robots += b.robots
        merged.raw_pages += b.raw_pages
        merged.done.update(b.done)
        merged.pending += b.pending
        merged.pending_done += b.pending_done
    return merged


def load_staged(
    con: duckdb.DuckDBPyConnection,
    items: Sequence[tuple[str, LoadBatch]],
    loaded_by: str | None = None,
) -> dict[str, int] | None:
    """Write staged batches (id, batch) of one run in one transaction, each
    exactly once: the ids are recorded in ``staged_batches`` in the same
    transaction, and those already recorded (by any loader) are left out.
    Returns what was written, or None when every one was already in."""
    with transaction(con):
        recorded = staged_recorded(con, [i for i, _ in items])
        todo = [(i, b) for i, b in items if i not in recorded]
        if not todo:
            return None
        counts = _write_batch(con, merge_batches([b for _, b in todo]))
        now = datetime.now(UTC)
        summary = json.dumps(dict(sorted(counts.items())))
        con.executemany(
            "INSERT INTO staged_batches VALUES (?, ?, ?, ?, ?, ?)",
            [[i, b.run_id, loaded_by or b.run_id, now, todo[0][0], summary] for i, b in todo],
        )
    return counts


def _write_batch(con: duckdb.DuckDBPyConnection, batch: LoadBatch) -> dict[str, int]:
    """Every row of one batch, inside the caller's transaction."""
    res: Resolution = resolve(batch.candidates, batch.listings, _lookup(con, batch), batch.run_id)
    articles = _cluster_new(con, res, batch.cluster_window_days)
    counts = {
        "articles_new": _insert(
            con,
            "articles",
            [
                {
                    **a.__dict__,
                    "run_id": batch.run_id,
                    # empty lists as NULL, as the revision writer stores them
                    "authors": list(a.authors) or None,
                    "keywords": list(a.keywords) or None,
                    "metadata_sources": dict(a.metadata_sources) or None,
                }
                for a in articles
            ],
            ARTICLE_SCHEMA,
            "INSERT OR IGNORE",
        ),
        "articles_duplicate": res.duplicates,
        "articles_joined_story": sum(
            1 for a in articles if a.cluster_id != cluster_id_for(a.article_id)
        ),
    }
    _insert_bands(con, [story_item(a, res.fingerprints[a.article_id]) for a in articles])
    dirty = {a.cluster_id for a in articles}
    counts["articles_revised"] = len(res.revisions)
    dirty |= write_revisions(
        con, res.revisions, batch.run_id, batch.cluster_window_days, res.revised_fingerprints
    )
    if res.entry_updates:
        con.register(
            "entry_updates",
            pa.Table.from_pylist(
                [
                    {"article_id": k, "entry_title": t, "entry_updated_at": u}
                    for k, (t, u) in res.entry_updates.items()
                ],
                schema=pa.schema(
                    [
                        ("article_id", pa.string()),
                        ("entry_title", pa.string()),
                        ("entry_updated_at", TS),
                    ]
                ),
            ),
        )
        con.execute("""
            UPDATE articles SET entry_title = coalesce(u.entry_title, articles.entry_title),
                entry_updated_at = coalesce(u.entry_updated_at, articles.entry_updated_at)
            FROM entry_updates u WHERE articles.article_id = u.article_id
              AND (articles.entry_title IS DISTINCT FROM u.entry_title
                   OR articles.entry_updated_at IS DISTINCT FROM u.entry_updated_at)
        """)
        con.unregister("entry_updates")
    _insert(
        con,
        "article_urls",
        [{"url": u, "article_id": a} for u, a in res.aliases.items()],
        pa.schema([("url", pa.string()), ("article_id", pa.string())]),
        "INSERT OR IGNORE",
    )
    counts["sightings"] = _insert(
        con,
        "sightings",
        [{**s.__dict__, "backfill_id": batch.backfill_id} for s in res.sightings.values()],
        SIGHTING_SCHEMA,
        "INSERT OR IGNORE",
    )
    if res.touched:
        con.register(
            "touched",
            pa.table(
                {
                    "article_id": list(res.touched),
                    "seen": pa.array(list(res.touched.values()), TS),
                }
            ),
        )
        con.execute("""
            UPDATE articles SET last_seen_at = t.seen FROM touched t
            WHERE articles.article_id = t.article_id AND articles.last_seen_at < t.seen
        """)
        con.unregister("touched")
    if dirty:
        refresh_clusters(con, dirty)
    counts["fetches"] = _insert(
        con,
        "fetch_log",
        [_fetch_row(batch.run_id, f, feed_id) for f, feed_id in batch.fetches if not f.offline],
        FETCH_SCHEMA,
    )
    counts["rejects"] = _insert(
        con, "rejects", [_reject_row(batch.run_id, r) for r in batch.rejects], REJECT_SCHEMA
    )
    if batch.feed_updates:
        con.register(
            "feed_updates",
            pa.Table.from_pylist(
                [u.__dict__ for u in batch.feed_updates], schema=FEED_UPDATE_SCHEMA
            ),
        )
        # Validators are replaced only by a 200; a 304 or an error keeps them.
        con.execute("""
            UPDATE feeds SET
                last_fetched_at = u.fetched_at, last_outcome = u.outcome,
                last_status = u.status, last_error = u.error,
                next_fetch_at = u.next_fetch_at,
                consecutive_failures = u.consecutive_failures,
                etag = CASE WHEN u.outcome = 'ok' THEN u.etag ELSE feeds.etag END,
                last_modified = CASE WHEN u.outcome = 'ok' THEN u.last_modified
                                     ELSE feeds.last_modified END,
                title = coalesce(u.title, feeds.title),
                last_entries = coalesce(u.entries, feeds.last_entries),
                ttl_minutes = coalesce(u.ttl_minutes, feeds.ttl_minutes),
                interval_minutes = coalesce(u.interval_minutes, feeds.interval_minutes),
                new_per_hour = coalesce(u.new_per_hour, feeds.new_per_hour),
                last_new_entries = coalesce(u.new_entries, feeds.last_new_entries),
                failure_kind = u.failure_kind,
                disabled = feeds.disabled OR u.disabled_reason IS NOT NULL,
                disabled_reason = coalesce(u.disabled_reason, feeds.disabled_reason),
                disabled_at = CASE WHEN u.disabled_reason IS NOT NULL THEN u.fetched_at
                                   ELSE feeds.disabled_at END,
                url = coalesce(u.moved_to, feeds.url)
            FROM feed_updates u WHERE feeds.feed_id = u.feed_id
              -- a late batch (a crashed run's leftover) never rolls a feed back
              AND (feeds.last_fetched_at IS NULL OR u.fetched_at >= feeds.last_fetched_at)
        """)
        con.execute(
            """
            INSERT INTO feed_url_history
            SELECT feed_id, old_url, moved_to, status, fetched_at, ?
            FROM feed_updates WHERE moved_to IS NOT NULL
        """,
            [batch.run_id],
        )
        con.unregister("feed_updates")
    if batch.raw_pages:
        _insert(
            con,
            "raw_pages",
            [{**r.__dict__, "run_id": batch.run_id} for r in batch.raw_pages],
            RAW_SCHEMA,
            "INSERT OR IGNORE",
        )
    if batch.done and batch.backfill_id:
        now = datetime.now(UTC)
        rows = [
            {"backfill_id": batch.backfill_id, "url": u, "outcome": o, "done_at": now}
            for u, o in batch.done.items()
        ]
        con.register("done_rows", pa.Table.from_pylist(rows, schema=DONE_SCHEMA))
        try:
            # a 'retry' checkpoint gives way to a final outcome, never the reverse
            con.execute("""
                UPDATE backfill_done SET outcome = d.outcome, done_at = d.done_at
                FROM done_rows d
                WHERE backfill_done.backfill_id = d.backfill_id AND backfill_done.url = d.url
                  AND backfill_done.outcome = 'retry' AND d.outcome <> 'retry'
            """)
            con.execute("INSERT OR IGNORE INTO backfill_done BY NAME SELECT * FROM done_rows")
        finally:
            con.unregister("done_rows")
    counts.update(_write_pending(con, batch))
    if batch.robots:
        _insert(
            con,
            "robots",
            [r.__dict__ for r in batch.robots],
            ROBOTS_SCHEMA,
            "INSERT OR REPLACE",
        )
    return counts


def _write_pending(con: duckdb.DuckDBPyConnection, batch: LoadBatch) -> dict[str, int]:
    """Links leaving the queue, then links (re)entering it, keyed by (url, feed)."""
    if batch.pending_done:
        done = sorted(set(batch.pending_done))
        con.register(
            "pending_done",
            pa.table({"url": [u for u, _ in done], "feed_id": [f for _, f in done]}),
        )
        try:
            con.execute(
                "DELETE FROM pending_pages p USING pending_done d "
                "WHERE p.url = d.url AND p.feed_id = d.feed_id"
            )
        finally:
            con.unregister("pending_done")
    rows = [
        {
            "url": p.entry.url,
            "feed_id": p.entry.feed_id,
            "source_id": p.entry.source_id,
            "kind": p.kind,
            "link": p.entry.link,
            "guid": p.entry.guid,
            "title": p.entry.title,
            "summary": p.entry.summary,
            "content": p.entry.content,
            "author": p.entry.author,
            "published_at": p.entry.published_at,
            "updated_at": p.entry.updated_at,
            "language": p.entry.language,
            "via": p.entry.via,
            "first_seen_at": p.first_seen_at,
            "attempts": p.attempts,
            "next_attempt_at": p.next_attempt_at,
            "last_reason": (p.reason or "")[:500] or None,
            "last_run_id": batch.run_id,
        }
        for p in {(p.entry.url, p.entry.feed_id): p for p in batch.pending}.values()
    ]
    written = _insert(con, "pending_pages", rows, PENDING_SCHEMA, "INSERT OR REPLACE")
    return {"pending_written": written, "pending_cleared": len(set(batch.pending_done))}


def due_pending(
    con: duckdb.DuckDBPyConnection, now: datetime, source_ids: Sequence[str] = (), limit: int = 0
) -> list[PendingPage]:
    """Links whose next attempt has come, oldest first (feeds still in the registry)."""
    ids = list(source_ids)
    rows = con.execute(
        f"""
        SELECT p.url, p.feed_id, p.source_id, p.kind, p.link, p.guid, p.title, p.summary,
               p.content, p.author, p.published_at, p.updated_at, p.language, p.via,
               p.first_seen_at, p.attempts, p.next_attempt_at, p.last_reason
        FROM pending_pages p
        WHERE p.next_attempt_at <= ?
          AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], p.source_id))
          AND p.source_id IN (SELECT source_id FROM sources)
        ORDER BY p.first_seen_at, p.url, p.feed_id
        {"LIMIT " + str(int(limit)) if limit > 0 else ""}
        """,
        [now, ids, ids],
    ).fetchall()
    out = []
    for (
        url,
        feed_id,
        source_id,
        kind,
        link,
        guid,
        title,
        summary,
        content,
        author,
        published,
        updated,
        language,
        via,
        first_seen,
        attempts,
        next_at,
        reason,
    ) in rows:
        entry = FeedEntry(
            feed_id=feed_id,
            source_id=source_id,
            url=url,
            link=link or url,
            guid=guid,
            title=title,
            summary=summary,
            content=content,
            author=author,
            published_at=published,
            language=language,
            updated_at=updated,
            via=via,
            queued_at=first_seen,
            attempts=attempts,
        )
        out.append(PendingPage(entry, kind, first_seen, next_at, reason, attempts))
    return out


REVISION_SCHEMA = pa.schema(
    [
        ("article_id", pa.string()),
        ("revision", pa.int32()),
        ("revised_at", TS),
        ("run_id", pa.string()),
        ("changed", pa.string()),
        ("fields", pa.map_(pa.string(), pa.struct([("old", pa.string()), ("new", pa.string())]))),
        ("title", pa.string()),
        ("body", pa.string()),
        ("content_hash", pa.string()),
        ("word_count", pa.int32()),
        ("author", pa.string()),
        ("published_at", TS),
        ("language", pa.string()),
        ("wire_service", pa.string()),
        ("extractor", pa.string()),
        ("body_status", pa.string()),
        ("body_reason", pa.string()),
        *METADATA_COLUMNS,
    ]
)


def write_revisions(
    con: duckdb.DuckDBPyConnection,
    revisions: Sequence[Revision],
    run_id: str,
    window_days: int,
    fingerprints: Mapping[str, Fingerprint],
    *,
    prefix: str = "",
) -> set[str]:
    """The one revision writer (polls, page retries, reprocess): keep each
    article's old version with every changed field, update the row, and
    place the articles whose text changed in their story again. Returns the
    clusters to refresh."""
    if not revisions:
        return set()
    table = pa.Table.from_pylist(
        [
            {
                "article_id": r.article_id,
                "revision": r.revision,
                "revised_at": r.revised_at,
                "run_id": run_id,
                "changed": prefix + r.changed,
                "fields": [(k, {"old": o, "new": n}) for k, (o, n) in r.fields.items()],
                "title": r.title,
                "body": r.body,
                "content_hash": r.content_hash,
                "word_count": r.word_count,
                "author": r.author,
                "published_at": r.published_at,
                "language": r.language,
                "wire_service": r.wire_service,
                "extractor": r.extractor,
                "body_status": r.body_status,
                "body_reason": r.body_reason,
                "authors": list(r.authors) or None,
                "published_precision": r.published_precision,
                "modified_at": r.modified_at,
                "description": r.description,
                "image_url": r.image_url,
                "section": r.section,
                "keywords": list(r.keywords) or None,
                "metadata_sources": dict(r.metadata_sources) or None,
            }
            for r in revisions
        ],
        schema=REVISION_SCHEMA,
    )
    con.register("revised", table)
    try:
        con.execute("""
            INSERT OR IGNORE INTO article_revisions BY NAME
            SELECT r.article_id, r.revision, r.revised_at, r.run_id, r.changed, r.fields,
                   a.title AS old_title, r.title AS new_title,
                   a.content_hash AS old_content_hash, r.content_hash AS new_content_hash,
                   a.body AS old_body, a.word_count AS old_word_count
            FROM revised r JOIN articles a USING (article_id)
        """)
        con.execute("""
            UPDATE articles SET title = coalesce(r.title, articles.title), body = r.body,
                content_hash = r.content_hash, word_count = r.word_count,
                author = coalesce(r.author, articles.author),
                published_at = coalesce(r.published_at, articles.published_at),
                language = coalesce(r.language, articles.language),
                wire_service = r.wire_service, extractor = r.extractor,
                body_status = r.body_status, body_reason = r.body_reason,
                authors = coalesce(r.authors, articles.authors),
                published_precision = CASE WHEN r.published_at IS NULL
                    THEN articles.published_precision ELSE r.published_precision END,
                modified_at = coalesce(r.modified_at, articles.modified_at),
                description = coalesce(r.description, articles.description),
                image_url = coalesce(r.image_url, articles.image_url),
                section = coalesce(r.section, articles.section),
                keywords = coalesce(r.keywords, articles.keywords),
                metadata_sources = coalesce(r.metadata_sources, articles.metadata_sources),
                revision = r.revision, updated_at = r.revised_at
            FROM revised r WHERE articles.article_id = r.article_id
        """)
    finally:
        con.unregister("revised")
    moved = {r.article_id: fingerprints[r.article_id] for r in revisions if r.body_changed}
    return _recluster(con, moved, window_days)


def refresh_clusters(con: duckdb.DuckDBPyConnection, cluster_ids: Iterable[str]) -> None:
    """Recompute origin, size and first publication of the given clusters.

    The origin is the earliest published member (first seen when undated);
    a member credited to a wire service names that wire as the story's origin
    source when the wire has no copy of its own.
    """
    con.register(
        "dirty_clusters", pa.table({"cluster_id": pa.array(sorted(cluster_ids), pa.string())})
    )
    try:
        con.execute("""
            INSERT OR REPLACE INTO clusters
            SELECT cluster_id,
                   arg_min(article_id, (coalesce(published_at, first_seen_at), first_seen_at,
                                        article_id)) AS origin_article_id,
                   coalesce(
                       arg_min(source_id, (coalesce(published_at, first_seen_at), first_seen_at,
                                           article_id))
                           FILTER (WHERE s.kind = 'wire'),
                       arg_min(wire_service, (coalesce(published_at, first_seen_at),
                                              first_seen_at, article_id))
                           FILTER (WHERE wire_service IS NOT NULL),
                       arg_min(source_id, (coalesce(published_at, first_seen_at), first_seen_at,
                                           article_id))
                   ) AS origin_source_id,
                   count(*) AS size,
                   min(published_at) AS first_published_at,
                   now() AS updated_at
            FROM articles a JOIN dirty_clusters USING (cluster_id)
            LEFT JOIN sources s USING (source_id)
            GROUP BY cluster_id
        """)
        # a cluster left without members (its only article moved on) goes
        con.execute("""
            DELETE FROM clusters WHERE cluster_id IN (SELECT cluster_id FROM dirty_clusters)
              AND cluster_id NOT IN (SELECT cluster_id FROM articles)
        """)
    finally:
        con.unregister("dirty_clusters")


# --------------------------------------------------------------------------- raw store


def expire_raw_pages(con: duckdb.DuckDBPyConnection, before: datetime) -> list[str]:
    """Forget raw pages fetched before ``before``; return the bodies nothing refers to now."""
    with transaction(con):
        old = {
            sha
            for (sha,) in con.execute(
                "SELECT DISTINCT sha256 FROM raw_pages WHERE fetched_at < ?", [before]
            ).fetchall()
        }
        con.execute("DELETE FROM raw_pages WHERE fetched_at < ?", [before])
        kept = (
            {
                sha
                for (sha,) in con.execute(
                    "SELECT DISTINCT sha256 FROM raw_pages "
                    "WHERE list_contains(?::VARCHAR[], sha256)",
                    [sorted(old)],
                ).fetchall()
            }
            if old
            else set()
        )
    return sorted(old - kept)


# --------------------------------------------------------------------------- reprocess


@dataclass(frozen=True)
class StoredPage:
    """An article and the latest raw page it came from."""

    article_id: str
    source_id: str
    url: str
    final_url: str | None
    sha256: str
    title: str | None
    content_hash: str
    author: str | None
    language: str | None
    wire_service: str | None
    extractor: str
    cluster_id: str
    published_at: datetime | None
    first_seen_at: datetime
    revision: int
    body_status: str = BodyStatus.PAGE
    # the metadata the last extraction stored (field -> value)
    metadata: Mapping[str, object] = field(default_factory=dict)


# Metadata fields a re-extraction may change besides REVISED_FIELDS; each change
# is listed in the revision's ``fields`` too.
METADATA_FIELDS = (
    "authors",
    "published_precision",
    "modified_at",
    "description",
    "image_url",
    "section",
    "keywords",
)


def stored_pages(
    con: duckdb.DuckDBPyConnection, since: datetime | None, source_ids: Sequence[str]
) -> list[StoredPage]:
    rows = con.execute(
        """
        SELECT a.article_id, a.source_id, a.url, r.final_url, r.sha256, a.title, a.content_hash,
               a.author, a.language, a.wire_service, a.extractor, a.cluster_id, a.published_at,
               a.first_seen_at, coalesce(a.revision, 0), coalesce(a.body_status, 'page'),
               a.authors, a.published_precision, a.modified_at, a.description, a.image_url,
               a.section, a.keywords
        FROM articles a
        JOIN article_urls u USING (article_id)
        JOIN raw_pages r ON r.url = u.url
        WHERE (?::TIMESTAMPTZ IS NULL OR coalesce(a.published_at, a.first_seen_at) >= ?)
          AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], a.source_id))
        QUALIFY row_number() OVER (PARTITION BY a.article_id ORDER BY r.fetched_at DESC) = 1
        ORDER BY a.article_id
        """,
        [since, since, list(source_ids), list(source_ids)],
    ).fetchall()
    width = len(METADATA_FIELDS)
    return [
        replace(
            StoredPage(*row[:-width]),
            metadata=dict(zip(METADATA_FIELDS, row[-width:], strict=True)),
        )
        for row in rows
    ]


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Reextracted:
    page: StoredPage
    title: str | None
    body: str
    content_hash: str
    word_count: int
    author: str | None
    language: str | None
    wire_service: str | None
    extractor: str
    fingerprint: Fingerprint
    metadata: Extracted | None = None  # everything the extraction decided

    def revision(self, at: datetime) -> Revision | None:
        """The revision this re-extraction makes of the stored article (None:
        nothing changed). Judged by the same rule as every other revision."""
        p = self.page
        old = Stored(
            p.content_hash,
            p.title,
            p.revision,
            author=p.author,
            published_at=p.published_at,
            language=p.language,
            wire_service=p.wire_service,
            body_status=p.body_status,
        )
        new = replace(
            old,
            content_hash=self.content_hash,
            title=self.title,
            author=self.author,
            language=self.language,
            wire_service=self.wire_service,
            body_status=BodyStatus.PAGE,
        )
        fields = diff(old, new)
        ex = self.metadata or Extracted(body=self.body, extractor=self.extractor)
        published = ex.published_at if ex.published_precision == "minute" else None
        if published is not None and published != p.published_at:
            fields["published_at"] = (_as_text(p.published_at), _as_text(published))
        fresh = {
            "authors": list(ex.authors) or None,
            "published_precision": ex.published_precision,
            "modified_at": ex.modified_at,
            "description": ex.description,
            "image_url": ex.image_url,
            "section": ex.section,
            "keywords": list(ex.keywords) or None,
        }
        for name, value in fresh.items():
            before = p.metadata.get(name)
            if value is not None and _as_text(value) != _as_text(before):
                fields[name] = (_as_text(before), _as_text(value))
        if not fields and self.extractor == p.extractor:
            return None
        return Revision(
            article_id=p.article_id,
            revision=p.revision + 1 if fields else p.revision,
            revised_at=at,
            changed=",".join(fields),
            fields=fields,
            title=self.title,
            body=self.body,
            content_hash=self.content_hash,
            word_count=self.word_count,
            author=self.author,
            published_at=published,
            language=self.language,
            wire_service=self.wire_service,
            extractor=self.extractor,
            body_status=BodyStatus.PAGE,
            authors=ex.authors,
            published_precision=ex.published_precision,
            modified_at=ex.modified_at,
            description=ex.description,
            image_url=ex.image_url,
            section=ex.section,
            keywords=ex.keywords,
            metadata_sources=ex.metadata_sources,
        )


def apply_reprocess(
    con: duckdb.DuckDBPyConnection,
    updates: Sequence[Reextracted],
    run_id: str,
    window_days: int,
) -> int:
    """Store re-extracted articles that changed, through the one revision
    writer (a revision row per change; an extractor upgrade that changed no
    field only renames the extractor)."""
    now = datetime.now(UTC)
    pairs = [(u, r) for u in updates if (r := u.revision(now)) is not None]
    revisions = [r for _, r in pairs if r.fields]
    renamed = [(r.extractor, r.article_id) for _, r in pairs if not r.fields]
    if not pairs:
        return 0
    with transaction(con):
        if renamed:
            con.executemany("UPDATE articles SET extractor = ? WHERE article_id = ?", renamed)
        dirty = write_revisions(
            con,
            revisions,
            run_id,
            window_days,
            {u.page.article_id: u.fingerprint for u, _ in pairs},
            prefix="reprocess:",
        )
        if dirty:
            refresh_clusters(con, dirty)
    return len(revisions)


# --------------------------------------------------------------------------- backfills


def backfill_plan(con: duckdb.DuckDBPyConnection, backfill_id: str) -> list[PlanItem] | None:
    """The stored plan of a backfill (in processing order), or None if never
    planned, or planned while some sitemap or archive could not be read."""
    found = con.execute(
        "SELECT coalesce(complete, true) FROM backfills WHERE backfill_id = ?", [backfill_id]
    ).fetchone()
    if not found or not found[0]:
        return None
    rows = con.execute(
        "SELECT url, source_id, input, via, published_at, title, warc_offset FROM backfill_plan "
        "WHERE backfill_id = ? ORDER BY position",
        [backfill_id],
    ).fetchall()
    return [PlanItem(*row) for row in rows]


def store_backfill_plan(
    con: duckdb.DuckDBPyConnection,
    backfill_id: str,
    params: Mapping[str, object],
    plan: Sequence[PlanItem],
    log: LoadBatch,
    *,
    complete: bool = True,
) -> None:
    """Store (or replace) a backfill's plan. An incomplete one (a sitemap or
    archive could not be read) is found again by nobody: the same command
    discovers again and replaces it."""
    rows = [
        {**item.__dict__, "backfill_id": backfill_id, "position": i} for i, item in enumerate(plan)
    ]
    with transaction(con):
        con.execute("DELETE FROM backfill_plan WHERE backfill_id = ?", [backfill_id])
        _insert(con, "backfill_plan", rows, PLAN_SCHEMA, "INSERT OR IGNORE")
        _insert(
            con,
            "fetch_log",
            [_fetch_row(log.run_id, f, feed_id) for f, feed_id in log.fetches],
            FETCH_SCHEMA,
        )
        _insert(
            con,
            "rejects",
            [_reject_row(log.run_id, r) for r in log.rejects],
            REJECT_SCHEMA,
        )
        con.execute(
            "INSERT OR REPLACE INTO backfills (backfill_id, params, created_at, planned, "
            "finished_at, complete) VALUES (?, ?, ?, ?, NULL, ?)",
            [backfill_id, json.dumps(params), datetime.now(UTC), len(plan), complete],
        )


def backfill_done_urls(con: duckdb.DuckDBPyConnection, backfill_id: str) -> set[str]:
    """Items of a backfill with a final outcome ('retry' checkpoints are not)."""
    rows = con.execute(
        "SELECT url FROM backfill_done WHERE backfill_id = ? AND outcome <> 'retry'",
        [backfill_id],
    )
    return {u for (u,) in rows.fetchall()}


def backfill_retries(con: duckdb.DuckDBPyConnection, backfill_id: str) -> int:
    """Items of a backfill that failed transiently and are to be tried again."""
    row = con.execute(
        "SELECT count(*) FROM backfill_done WHERE backfill_id = ? AND outcome = 'retry'",
        [backfill_id],
    ).fetchone()
    return int(row[0]) if row else 0


def finish_backfill(con: duckdb.DuckDBPyConnection, backfill_id: str, at: datetime) -> None:
    con.execute("UPDATE backfills SET finished_at = ? WHERE backfill_id = ?", [at, backfill_id])


# --------------------------------------------------------------------------- runs


def staged_recorded(con: duckdb.DuckDBPyConnection, batch_ids: Sequence[str]) -> set[str]:
    """Which of these staged batches have been written (by any loader)."""
    rows = con.execute(
        "SELECT batch_id FROM staged_batches WHERE list_contains(?::VARCHAR[], batch_id)",
        [list(batch_ids)],
    ).fetchall()
    return {r[0] for r in rows}


# A running run writes its heartbeat this often; one silent for STALE_AFTER
# is taken for dead (killed, or its machine lost) and marked 'abandoned'.
HEARTBEAT_EVERY = timedelta(seconds=30)
STALE_AFTER = timedelta(minutes=5)


def running_runs(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> set[str]:
    """Runs that have not recorded their end and are alive (heartbeat fresh)."""
    at = now or datetime.now(UTC)
    rows = con.execute(
        "SELECT run_id FROM runs WHERE finished_at IS NULL "
        "AND coalesce(heartbeat_at, started_at) >= ?",
        [at - STALE_AFTER],
    ).fetchall()
    return {r[0] for r in rows}


def abandon_stale_runs(con: duckdb.DuckDBPyConnection, now: datetime) -> list[str]:
    """Mark runs whose heartbeat stopped long ago as 'abandoned' (their
    process died without recording its end); returns their ids. A run on
    another machine that is alive keeps its heartbeat fresh and is left alone."""
    rows = con.execute(
        """
        UPDATE runs SET status = 'abandoned',
               finished_at = coalesce(heartbeat_at, started_at),
               reason = 'no heartbeat since ' ||
                        strftime(coalesce(heartbeat_at, started_at), '%Y-%m-%d %H:%M:%S') ||
                        ' UTC (the process died or was killed)'
        WHERE finished_at IS NULL AND coalesce(heartbeat_at, started_at) < ?
        RETURNING run_id
        """,
        [now - STALE_AFTER],
    ).fetchall()
    return [r[0] for r in rows]


def heartbeat(con: duckdb.DuckDBPyConnection, run_id: str, at: datetime) -> None:
    con.execute(
        "UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND finished_at IS NULL",
        [at, run_id],
    )


def start_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    flow: str,
    started_at: datetime,
    host: str | None = None,
) -> list[str]:
    """Record a run as running (its first heartbeat now); returns the runs
    this marked abandoned."""
    abandoned = abandon_stale_runs(con, started_at)
    con.execute(
        "INSERT OR IGNORE INTO runs (run_id, flow, started_at, status, heartbeat_at, host) "
        "VALUES (?, ?, ?, 'running', ?, ?)",
        [run_id, flow, started_at, started_at, host],
    )
    return abandoned


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    status: str,
    counts: Mapping[str, int],
    finished_at: datetime,
    *,
    reason: str | None = None,
) -> None:
    summary = json.dumps(dict(sorted(counts.items())))
    con.execute(
        "UPDATE runs SET status = ?, counts = ?, finished_at = ?, heartbeat_at = ?, reason = ? "
        "WHERE run_id = ?",
        [status, summary, finished_at, finished_at, reason, run_id],
    )


# --------------------------------------------------------------------------- queries


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


@dataclass(frozen=True)
class ReadLimits:
    """What a query may do. By default it reads the warehouse and nothing
    else: no local files, no extensions, no settings; a time and memory bound."""

    allow_files: bool = False  # read local files too (e.g. staged Parquet batches)
    timeout_seconds: float = 300.0
    memory_limit: str = "4GB"


class QueryTimeout(WarehouseError):
    pass


@contextmanager
def _read(
    path: Path, sql: str, wait: float, limits: ReadLimits
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that reads the warehouse and nothing else (unless
    ``limits.allow_files``): statements checked by DuckDB's parser before
    anything runs; the warehouse attached read-only, then external access
    turned off and the configuration locked; a timer interrupts a query
    past ``limits.timeout_seconds``. SQL errors become :class:`WarehouseError`."""
    path = Path(path)
    if not path.exists():
        raise WarehouseError(f"no warehouse at {path}: run `ingest run` first")
    con = duckdb.connect(":memory:", config=_config(True))
    timer: threading.Timer | None = None
    try:
        check_read_only(con, sql)
        literal = "'" + str(path).replace("'", "''") + "'"
        _retry_locked(path, wait, lambda: con.execute(f"ATTACH {literal} AS wh (READ_ONLY)"))
        con.execute("USE wh")
        con.execute(f"SET memory_limit = '{limits.memory_limit}'")
        if not limits.allow_files:
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
        raise WarehouseError(f"SQL error: {exc}") from exc
    finally:
        if timer is not None:
            timer.cancel()
        con.close()


def query(
    path: Path, sql: str, wait: float = 60.0, limits: ReadLimits | None = None
) -> QueryResult:
    """Run read-only SQL and return its rows."""
    with _read(path, sql, wait, limits or ReadLimits()) as con:
        con.execute(sql)
        columns = [d[0] for d in con.description or []]
        return QueryResult(columns, con.fetchall() if columns else [])


def query_arrow(
    path: Path, sql: str, wait: float = 60.0, limits: ReadLimits | None = None
) -> pa.Table:
    """Run read-only SQL and return an Arrow table (types kept, for Parquet)."""
    with _read(path, sql, wait, limits or ReadLimits()) as con:
        return con.sql(sql).to_arrow_table()


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


__all__ = [
    "DueFeed",
    "FeedUpdate",
    "LoadBatch",
    "QueryResult",
    "ReadOnlyViolation",
    "Reject",
    "WarehouseBusy",
    "WarehouseError",
    "connect",
    "due_feeds",
    "feed_id_for",
    "finish_run",
    "known_urls",
    "load_batch",
    "migrate",
    "query",
    "start_run",
    "sync_registry",
    "writer",
]
