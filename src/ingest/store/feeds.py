"""The registry as the warehouse knows it: sources and feeds synced from the
registry file (and refused changes), feeds due for a poll, robots.txt records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from ingest.records import DueFeed, RobotsRecord
from ingest.registry import Registry
from ingest.store.connection import WarehouseError, transaction
from ingest.store.schema import table_schema, values


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
    if not problems and _already_synced(con, registry, path):
        # The same bytes as the last sync, made after the last migration:
        # ``sources`` and ``feeds`` already say what this sync would (it is
        # idempotent, and nothing else writes those columns). Only the sync
        # is recorded: merging 10,000 sources costs about a second a run.
        _record_sync(con, registry, path, now, run_id=run_id, problems=problems)
        return
    source_rows = [
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
            "tags": list(s.tags),
            "updated_at": now,
        }
        for s in registry
    ]
    source_columns = ["source_id", "name", "kind", "domains", "homepage", "country"]
    source_columns += ["language", "credits", "sitemaps", "timezone", "tags", "updated_at"]
    sources = pa.Table.from_pylist(source_rows, schema=table_schema(con, "sources", source_columns))
    feeds = pa.Table.from_pylist(
        [
            {"feed_id": fid, "source_id": s.source_id, "url": url}
            for fid, s, url in registry.feeds()
        ],
        schema=table_schema(con, "feeds", ["feed_id", "source_id", "url"]),
    )
    with transaction(con):
        con.register("reg_sources", sources)
        con.register("reg_feeds", feeds)
        con.execute("""
            MERGE INTO sources AS t USING reg_sources AS s ON t.source_id = s.source_id
            WHEN MATCHED AND (t.name, t.kind, t.domains, t.homepage, t.country, t.language,
                              t.credits, t.sitemaps, t.timezone, t.tags)
                      IS DISTINCT FROM (s.name, s.kind, s.domains, s.homepage, s.country,
                              s.language, s.credits, s.sitemaps, s.timezone, s.tags)
                THEN UPDATE SET name = s.name, kind = s.kind, domains = s.domains,
                     homepage = s.homepage, country = s.country, language = s.language,
                     credits = s.credits, sitemaps = s.sitemaps, timezone = s.timezone,
                     tags = s.tags, updated_at = s.updated_at
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
        _record_sync(con, registry, path, now, run_id=run_id, problems=problems)


def _already_synced(con: duckdb.DuckDBPyConnection, registry: Registry, path: str) -> bool:
    """Whether the last sync was of this very registry (path and content
    hash), made after the last schema migration (a migration may add a
    column that only a sync fills)."""
    if not registry.sha256:
        return False
    row = con.execute("""
        SELECT s.path, s.sha256, s.synced_at >= coalesce(
                   (SELECT max(applied_at) FROM schema_migrations), s.synced_at)
        FROM registry_syncs s ORDER BY s.synced_at DESC LIMIT 1
    """).fetchone()
    return row is not None and row[0] == path and row[1] == registry.sha256 and bool(row[2])


def _record_sync(
    con: duckdb.DuckDBPyConnection,
    registry: Registry,
    path: str,
    now: datetime,
    *,
    run_id: str | None,
    problems: Sequence[str],
) -> None:
    con.execute(
        "INSERT INTO registry_syncs VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            now,
            path,
            registry.sha256,
            len(registry),
            sum(len(s.feeds) for s in registry),
            run_id,
            "; ".join(problems) if problems else None,
        ],
    )


def due_feeds(
    con: duckdb.DuckDBPyConnection,
    now: datetime,
    *,
    all_feeds: bool = False,
    source_ids: Sequence[str] = (),
) -> list[DueFeed]:
    """Enabled registry feeds whose next poll has come (all of them with ``all_feeds``)."""
    only = "AND source_id IN (SELECT source_id FROM wanted_sources)" if source_ids else ""
    sql = f"""
        SELECT feed_id, source_id, url, etag, last_modified, consecutive_failures,
               last_fetched_at, interval_minutes, new_per_hour, failure_kind
        FROM feeds
        WHERE in_registry AND NOT disabled
          AND (? OR next_fetch_at IS NULL OR next_fetch_at <= ?)
          {only}
        ORDER BY next_fetch_at NULLS FIRST, feed_id
    """
    with values(con, "wanted_sources", source_id=source_ids):
        rows = con.execute(sql, [all_feeds, now]).fetchall()
    return [DueFeed(*row) for row in rows]


def robots_records(
    con: duckdb.DuckDBPyConnection, now: datetime, table: str = "robots"
) -> list[RobotsRecord]:
    """The cached answers of ``table`` (robots, or tdmrep) not expired at ``now``."""
    if table not in ("robots", "tdmrep"):
        raise ValueError(f"not a cache of origin files: {table}")
    rows = con.execute(
        f"SELECT origin, fetched_at, expires_at, status, outcome, body FROM {table} "
        "WHERE expires_at > ?",
        [now],
    ).fetchall()
    return [RobotsRecord(*row) for row in rows]


def enable_feeds(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[tuple[str, str]]:
    """Re-enable the feeds of these sources (or these feed ids / URLs); due at once."""
    with values(con, "wanted", value=ids):
        rows = con.execute(
            """
            SELECT feed_id, url FROM feeds
            WHERE disabled AND (source_id IN (SELECT value FROM wanted)
                                OR feed_id IN (SELECT value FROM wanted)
                                OR url IN (SELECT value FROM wanted))
            """
        ).fetchall()
    with values(con, "enabled", feed_id=[r[0] for r in rows]):
        con.execute(
            """
            UPDATE feeds SET disabled = false, disabled_reason = NULL, disabled_at = NULL,
                   consecutive_failures = 0, failure_kind = NULL, next_fetch_at = NULL
            WHERE feed_id IN (SELECT feed_id FROM enabled)
            """
        )
    return [(str(a), str(b)) for a, b in rows]
