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
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

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
    Stored,
    assign_clusters,
    changes,
    cluster_id_for,
    resolve,
    story_time,
)
from ingest.near import Fingerprint, best_match, fingerprint
from ingest.records import Article, FetchResult
from ingest.registry import Registry, feed_id_for
from ingest.robots import RobotsRecord
from ingest.schedule import FeedHistory

_LOCKED = re.compile(r"lock|being used by another process|conflicting lock", re.IGNORECASE)
READ_STATEMENTS = frozenset({"SELECT", "EXPLAIN", "PRAGMA", "CALL", "RELATION"})


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


def connect(
    path: Path, *, read_only: bool = False, wait: float = 60.0
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, retrying for ``wait`` seconds while another process holds it."""
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"no warehouse at {path}: run `ingest run` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=_config(read_only))
        except duckdb.IOException as exc:
            if not _LOCKED.search(str(exc)):
                raise WarehouseError(f"cannot open {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"the warehouse {path} is held by another process (an ingestion run is "
                    f"loading); gave up after {wait:g}s. Try again shortly."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


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


def sync_registry(con: duckdb.DuckDBPyConnection, registry: Registry, now: datetime) -> None:
    """Make ``sources`` and ``feeds`` match the registry (feed state is kept)."""
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
                              t.credits, t.sitemaps)
                      IS DISTINCT FROM (s.name, s.kind, s.domains, s.homepage, s.country,
                              s.language, s.credits, s.sitemaps)
                THEN UPDATE SET name = s.name, kind = s.kind, domains = s.domains,
                     homepage = s.homepage, country = s.country, language = s.language,
                     credits = s.credits, sitemaps = s.sitemaps, updated_at = s.updated_at
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


def known_listings(con: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, KnownListing]:
    """Known URLs with what the feed said of their article last time."""
    wanted = sorted(set(urls))
    if not wanted:
        return {}
    con.register("wanted_urls", pa.table({"url": pa.array(wanted, pa.string())}))
    try:
        rows = con.execute("""
            SELECT u.url, u.article_id, a.entry_title, a.entry_updated_at
            FROM article_urls u JOIN wanted_urls w USING (url)
            JOIN articles a USING (article_id)
        """).fetchall()
    finally:
        con.unregister("wanted_urls")
    return {url: KnownListing(a, t, u) for url, a, t, u in rows}


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
        ):
            rows.clear()
        self.done.clear()


TS = pa.timestamp("us", tz="UTC")
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
            "SELECT article_id, content_hash, title, coalesce(revision, 0) FROM articles "
            "WHERE list_contains(?::VARCHAR[], article_id)",
            [ids],
        ).fetchall()
        stored = {a: Stored(h, t, int(r)) for a, h, t, r in rows}
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


def _cluster_new(
    con: duckdb.DuckDBPyConnection, res: Resolution, window_days: int
) -> list[Article]:
    """Near-duplicate clustering of the batch's new articles against the warehouse."""
    if not res.articles:
        return []
    new_bands = [
        {"article_id": a.article_id, "band": b, "bucket": k, "story_at": story_time(a)}
        for a in res.articles
        for b, k in res.fingerprints[a.article_id].bands
        if res.fingerprints[a.article_id].matchable
    ]
    candidates: dict[str, list[Member]] = {}
    if new_bands:
        times = [story_time(a) for a in res.articles]
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
        for new_id, old in pairs:
            if old in members:
                candidates.setdefault(new_id, []).append(members[old])
    hashes = sorted({a.content_hash for a in res.articles})
    same_text = dict(
        con.execute(
            "SELECT content_hash, arg_min(cluster_id, first_seen_at) FROM articles "
            "WHERE list_contains(?::VARCHAR[], content_hash) GROUP BY ALL",
            [hashes],
        ).fetchall()
    )
    return assign_clusters(res.articles, res.fingerprints, candidates, same_text)


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
            [{**a.__dict__, "run_id": batch.run_id} for a in articles],
            ARTICLE_SCHEMA,
            "INSERT OR IGNORE",
        ),
        "articles_duplicate": res.duplicates,
        "articles_joined_story": sum(
            1 for a in articles if a.cluster_id != cluster_id_for(a.article_id)
        ),
    }
    _insert(
        con,
        "article_bands",
        [
            {"band": b, "bucket": k, "article_id": a.article_id, "story_at": story_time(a)}
            for a in articles
            for b, k in res.fingerprints[a.article_id].bands
            if res.fingerprints[a.article_id].matchable
        ],
        BAND_SCHEMA,
    )
    counts["articles_revised"] = _revise(con, res, batch.run_id)
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
    if articles:
        refresh_clusters(con, {a.cluster_id for a in articles})
    counts["fetches"] = _insert(
        con,
        "fetch_log",
        [_fetch_row(batch.run_id, f, feed_id) for f, feed_id in batch.fetches if not f.offline],
        FETCH_SCHEMA,
    )
    counts["rejects"] = _insert(
        con,
        "rejects",
        [
            {
                "run_id": batch.run_id,
                "feed_id": r.feed_id,
                "url": r.url,
                "stage": r.stage,
                "reason": r.reason,
                "rejected_at": r.at,
            }
            for r in batch.rejects
        ],
        REJECT_SCHEMA,
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
        _insert(
            con,
            "backfill_done",
            [
                {"backfill_id": batch.backfill_id, "url": u, "outcome": o, "done_at": now}
                for u, o in batch.done.items()
            ],
            DONE_SCHEMA,
            "INSERT OR IGNORE",
        )
    if batch.robots:
        _insert(
            con,
            "robots",
            [r.__dict__ for r in batch.robots],
            ROBOTS_SCHEMA,
            "INSERT OR REPLACE",
        )
    return counts


def _revise(con: duckdb.DuckDBPyConnection, res: Resolution, run_id: str) -> int:
    """Keep the old version of each revised article, then update the row."""
    if not res.revisions:
        return 0
    table = pa.Table.from_pylist(
        [
            {
                "article_id": r.article_id,
                "revision": r.revision,
                "revised_at": r.revised_at,
                "run_id": run_id,
                "changed": r.changed,
                "new_title": r.new_title,
                "new_content_hash": r.new_content_hash,
                "body": r.body,
                "word_count": r.word_count,
            }
            for r in res.revisions
        ],
        schema=pa.schema(
            [
                ("article_id", pa.string()),
                ("revision", pa.int32()),
                ("revised_at", TS),
                ("run_id", pa.string()),
                ("changed", pa.string()),
                ("new_title", pa.string()),
                ("new_content_hash", pa.string()),
                ("body", pa.string()),
                ("word_count", pa.int32()),
            ]
        ),
    )
    con.register("revised", table)
    try:
        con.execute("""
            INSERT OR IGNORE INTO article_revisions
            SELECT r.article_id, r.revision, r.revised_at, r.run_id, r.changed, a.title,
                   r.new_title, a.content_hash, r.new_content_hash, a.body, a.word_count
            FROM revised r JOIN articles a USING (article_id)
        """)
        con.execute("""
            UPDATE articles SET title = coalesce(r.new_title, articles.title), body = r.body,
                content_hash = r.new_content_hash, word_count = r.word_count,
                revision = r.revision, updated_at = r.revised_at
            FROM revised r WHERE articles.article_id = r.article_id
        """)
    finally:
        con.unregister("revised")
    return len(res.revisions)


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


def stored_pages(
    con: duckdb.DuckDBPyConnection, since: datetime | None, source_ids: Sequence[str]
) -> list[StoredPage]:
    rows = con.execute(
        """
        SELECT a.article_id, a.source_id, a.url, r.final_url, r.sha256, a.title, a.content_hash,
               a.author, a.language, a.wire_service, a.extractor, a.cluster_id, a.published_at,
               a.first_seen_at, coalesce(a.revision, 0)
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
    return [StoredPage(*row) for row in rows]


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

    @property
    def text_changed(self) -> bool:
        return bool(self.changed_parts)

    @property
    def changed_parts(self) -> str:
        p = self.page
        return changes(p.title, self.title, p.content_hash, self.content_hash)

    @property
    def changed(self) -> bool:
        p = self.page
        return self.text_changed or (self.author, self.language, self.wire_service) != (
            p.author,
            p.language,
            p.wire_service,
        )


def apply_reprocess(
    con: duckdb.DuckDBPyConnection,
    updates: Sequence[Reextracted],
    run_id: str,
    window_days: int,
) -> int:
    """Store re-extracted articles that changed: revision, row, bands, cluster."""
    changed = [u for u in updates if u.changed]
    if not changed:
        return 0
    now = datetime.now(UTC)
    with transaction(con):
        dirty: set[str] = set()
        for u in changed:
            p = u.page
            if u.text_changed:
                con.execute(
                    """
                    INSERT OR IGNORE INTO article_revisions
                    SELECT article_id, ?, ?, ?, ?, title, ?, content_hash, ?, body, word_count
                    FROM articles WHERE article_id = ?
                    """,
                    [
                        p.revision + 1,
                        now,
                        run_id,
                        f"reprocess:{u.changed_parts}",
                        u.title,
                        u.content_hash,
                        p.article_id,
                    ],
                )
            con.execute(
                """
                UPDATE articles SET title = coalesce(?, title), body = ?, content_hash = ?,
                    word_count = ?, author = ?, language = ?, wire_service = ?, extractor = ?,
                    updated_at = ?, revision = revision + ?
                WHERE article_id = ?
                """,
                [
                    u.title,
                    u.body,
                    u.content_hash,
                    u.word_count,
                    u.author,
                    u.language,
                    u.wire_service,
                    u.extractor,
                    now,
                    int(u.text_changed),
                    p.article_id,
                ],
            )
            if u.content_hash != p.content_hash:
                dirty |= _recluster(con, u, window_days)
        if dirty:
            refresh_clusters(con, dirty)
    return len(changed)


def _recluster(con: duckdb.DuckDBPyConnection, u: Reextracted, window_days: int) -> set[str]:
    """New bands for a changed text, and the story it now belongs to."""
    p = u.page
    when = p.published_at or p.first_seen_at
    con.execute("DELETE FROM article_bands WHERE article_id = ?", [p.article_id])
    fp = u.fingerprint
    if fp.matchable:
        _insert(
            con,
            "article_bands",
            [
                {"band": b, "bucket": k, "article_id": p.article_id, "story_at": when}
                for b, k in fp.bands
            ],
            BAND_SCHEMA,
        )
    others = con.execute(
        """
        SELECT DISTINCT a.article_id, a.cluster_id, a.body
        FROM article_bands mine JOIN article_bands b USING (band, bucket)
        JOIN articles a ON a.article_id = b.article_id
        WHERE mine.article_id = ? AND b.article_id <> ?
          AND b.story_at BETWEEN ?::TIMESTAMPTZ - to_days(?) AND ?::TIMESTAMPTZ + to_days(?)
        """,
        [p.article_id, p.article_id, when, window_days, when, window_days],
    ).fetchall()
    members = [
        Member(a, c, fingerprint(body))
        for a, c, body in others
        if c != p.cluster_id or a != p.article_id
    ]
    match = best_match(fp, [(m.article_id, m.fingerprint) for m in members])
    new_cluster = (
        next(m.cluster_id for m in members if m.article_id == match[0])
        if match
        else cluster_id_for(p.article_id)
    )
    if new_cluster != p.cluster_id:
        con.execute(
            "UPDATE articles SET cluster_id = ?, cluster_score = ? WHERE article_id = ?",
            [new_cluster, match[1] if match else None, p.article_id],
        )
    return {p.cluster_id, new_cluster}


# --------------------------------------------------------------------------- backfills


def backfill_plan(con: duckdb.DuckDBPyConnection, backfill_id: str) -> list[PlanItem] | None:
    """The stored plan of a backfill (in processing order), or None if never planned."""
    if not con.execute("SELECT 1 FROM backfills WHERE backfill_id = ?", [backfill_id]).fetchone():
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
) -> None:
    rows = [
        {**item.__dict__, "backfill_id": backfill_id, "position": i} for i, item in enumerate(plan)
    ]
    with transaction(con):
        _insert(con, "backfill_plan", rows, PLAN_SCHEMA, "INSERT OR IGNORE")
        _insert(
            con,
            "fetch_log",
            [_fetch_row(log.run_id, f, feed_id) for f, feed_id in log.fetches],
            FETCH_SCHEMA,
        )
        con.execute(
            "INSERT OR IGNORE INTO backfills VALUES (?, ?, ?, ?, NULL)",
            [backfill_id, json.dumps(params), datetime.now(UTC), len(plan)],
        )


def backfill_done_urls(con: duckdb.DuckDBPyConnection, backfill_id: str) -> set[str]:
    rows = con.execute("SELECT url FROM backfill_done WHERE backfill_id = ?", [backfill_id])
    return {u for (u,) in rows.fetchall()}


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


def running_runs(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Runs that have not recorded their end."""
    return {
        r[0] for r in con.execute("SELECT run_id FROM runs WHERE finished_at IS NULL").fetchall()
    }


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, flow: str, started_at: datetime) -> None:
    con.execute(
        "INSERT OR IGNORE INTO runs (run_id, flow, started_at, status) VALUES (?, ?, ?, 'running')",
        [run_id, flow, started_at],
    )


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    status: str,
    counts: Mapping[str, int],
    finished_at: datetime,
) -> None:
    con.execute(
        "UPDATE runs SET status = ?, counts = ?, finished_at = ? WHERE run_id = ?",
        [status, json.dumps(dict(sorted(counts.items()))), finished_at, run_id],
    )


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
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


@contextmanager
def _read(path: Path, sql: str, wait: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for ``sql``; a write statement is refused before
    anything runs, and SQL errors become :class:`WarehouseError`."""
    con = connect(path, read_only=True, wait=wait)
    try:
        check_read_only(con, sql)
        yield con
    except duckdb.Error as exc:
        if "read-only" in str(exc).lower():
            raise ReadOnlyViolation(f"refused: {exc}") from exc
        raise WarehouseError(f"SQL error: {exc}") from exc
    finally:
        con.close()


def query(path: Path, sql: str, wait: float = 60.0) -> QueryResult:
    """Run read-only SQL and return its rows."""
    with _read(path, sql, wait) as con:
        con.execute(sql)
        columns = [d[0] for d in con.description or []]
        return QueryResult(columns, con.fetchall() if columns else [])


def query_arrow(path: Path, sql: str, wait: float = 60.0) -> pa.Table:
    """Run read-only SQL and return an Arrow table (types kept, for Parquet)."""
    with _read(path, sql, wait) as con:
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
