"""The write path: one load batch (or several staged ones) in one transaction.

What the batch's candidates are (new rows, revisions, aliases, sightings) is
decided by :func:`ingest.dedup.resolve` over what the warehouse knows; their
stories by :mod:`ingest.store.stories`; every other part of the batch (fetches,
rejects, feed states, raw pages, backfill checkpoints, the page queue) is
written as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from ingest.dedup import cluster_id_for, resolve, story_item
from ingest.records import (
    FeedEntry,
    FeedUpdate,
    FetchResult,
    Known,
    KnownListing,
    LoadBatch,
    PendingPage,
    Provenance,
    Reject,
    Resolution,
    Rights,
    Stored,
)
from ingest.store.connection import transaction
from ingest.store.revisions import write_revisions
from ingest.store.schema import (
    encoder,
    insert,
    insert_rows,
    key_in,
    record_schema,
    table_schema,
    values,
)
from ingest.store.stories import cluster_new, insert_bands, refresh_clusters


def known_urls(con: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(urls))
    if not wanted:
        return {}
    with key_in(con, "url", wanted) as wanted_url:
        sql = f"SELECT url, article_id FROM article_urls WHERE {wanted_url}"
        rows = con.execute(sql).fetchall()
    return dict(rows)


def known_listings(con: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> dict[str, KnownListing]:
    """Known URLs with what the feed said of their article last time."""
    wanted = sorted(set(urls))
    if not wanted:
        return {}
    ids = known_urls(con, wanted)
    with key_in(con, "article_id", ids.values()) as wanted_id:
        listed = {
            a: (t, u, b)
            for a, t, u, b in con.execute(
                "SELECT article_id, entry_title, entry_updated_at, coalesce(body_status, 'page') "
                f"FROM articles WHERE {wanted_id}"
            ).fetchall()
        }
    return {url: KnownListing(a, *listed[a]) for url, a in ids.items() if a in listed}


def pending_keys(con: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> set[tuple[str, str]]:
    """(url, feed_id) of these links that wait in ``pending_pages``."""
    wanted = sorted(set(urls))
    if not wanted:
        return set()
    with values(con, "wanted_urls", url=wanted):
        rows = con.execute(
            "SELECT p.url, p.feed_id FROM pending_pages p JOIN wanted_urls w USING (url)"
        ).fetchall()
    return {(u, f) for u, f in rows}


def fetch_row(
    run_id: str, f: FetchResult, feed_id: str | None, entries: int | None = None
) -> dict[str, Any]:
    """A ``fetch_log`` row; ``entries``: the items of a feed's answer."""
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
        "entries": entries,
    }


def reject_row(run_id: str, r: Reject) -> dict[str, Any]:
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
        sources, hashes = [p[0] for p in pairs], [p[1] for p in pairs]
        with values(con, "wanted_hashes", source_id=sources, content_hash=hashes):
            rows = con.execute("""
                SELECT a.source_id, a.content_hash, min(a.article_id)
                FROM articles a JOIN wanted_hashes w USING (source_id, content_hash)
                GROUP BY ALL
            """).fetchall()
        by_hash = {(s, h): a for s, h, a in rows}
    by_url = known_urls(con, urls)
    stored: dict[str, Stored] = {}
    if by_url:
        with key_in(con, "article_id", by_url.values()) as wanted_id:
            rows = con.execute(
                "SELECT article_id, content_hash, title, coalesce(revision, 0), author, "
                "published_at, language, wire_service, coalesce(body_status, 'page') "
                f"FROM articles WHERE {wanted_id}"
            ).fetchall()
        stored = {row[0]: Stored(row[1], row[2], int(row[3]), *row[4:]) for row in rows}
    return Known(by_url=by_url, by_hash=by_hash, stored=stored)


def write_batch(con: duckdb.DuckDBPyConnection, batch: LoadBatch) -> dict[str, int]:
    """Write one batch in one transaction; idempotent. Returns what was written."""
    with transaction(con, f"load: {batch.run_id}", batch.run_id):
        return _write_rows(con, batch)


def merge_batches(batches: Sequence[LoadBatch]) -> LoadBatch:
    """Several batches of one run as one (rows in order)."""
    return batches[0].empty().plus(*batches)


def write_staged(
    con: duckdb.DuckDBPyConnection,
    items: Sequence[tuple[str, LoadBatch]],
    loaded_by: str | None = None,
) -> dict[str, int] | None:
    """Write staged batches (id, batch) of one run in one transaction, each
    exactly once: the ids are recorded in ``staged_batches`` in the same
    transaction, and those already recorded (by any loader) are left out.
    Returns what was written, or None when every one was already in."""
    run_id = items[0][1].run_id
    batches = f"{len(items)} staged batch" + ("es" if len(items) > 1 else "")
    with transaction(con, f"load: {run_id}, {batches}", run_id):
        recorded = staged_recorded(con, [i for i, _ in items])
        todo = [(i, b) for i, b in items if i not in recorded]
        if not todo:
            return None
        counts = _write_rows(con, merge_batches([b for _, b in todo]))
        now = datetime.now(UTC)
        summary = json.dumps(dict(sorted(counts.items())))
        con.executemany(
            "INSERT INTO staged_batches VALUES (?, ?, ?, ?, ?, ?)",
            [[i, b.run_id, loaded_by or b.run_id, now, todo[0][0], summary] for i, b in todo],
        )
    return counts


def _write_rows(con: duckdb.DuckDBPyConnection, batch: LoadBatch) -> dict[str, int]:
    """Every row of one batch, inside the caller's transaction."""
    res: Resolution = resolve(batch.candidates, batch.listings, _lookup(con, batch), batch.run_id)
    articles = cluster_new(con, res, batch.cluster_window_days)
    counts = {
        "articles_new": insert(
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
                    "rights": encoder(Rights)(a.rights),
                    "provenance": encoder(Provenance)(a.provenance),
                }
                for a in articles
            ],
            "keep",
        ),
        "articles_duplicate": res.duplicates,
        "articles_joined_story": sum(
            1 for a in articles if a.cluster_id != cluster_id_for(a.article_id)
        ),
    }
    insert_bands(con, [story_item(a, res.fingerprints[a.article_id]) for a in articles])
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
                schema=table_schema(
                    con, "articles", ["article_id", "entry_title", "entry_updated_at"]
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
    insert(
        con,
        "article_urls",
        [{"url": u, "article_id": a} for u, a in res.aliases.items()],
        "keep",
    )
    counts["sightings"] = insert(
        con,
        "sightings",
        [{**s.__dict__, "backfill_id": batch.backfill_id} for s in res.sightings.values()],
        "keep",
    )
    if res.touched:
        con.register(
            "touched",
            pa.table(
                {
                    "article_id": list(res.touched),
                    "seen": pa.array(list(res.touched.values()), pa.timestamp("us", tz="UTC")),
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
    # a batch polls each feed at most once: its update holds the answer's items
    entries = {u.feed_id: u.entries for u in batch.feed_updates if u.outcome == "ok"}
    counts["fetches"] = insert(
        con,
        "fetch_log",
        [
            fetch_row(
                batch.run_id, f, feed_id, entries.get(feed_id or "") if f.kind == "feed" else None
            )
            for f, feed_id in batch.fetches
            if not f.offline
        ],
    )
    counts["rejects"] = insert(con, "rejects", [reject_row(batch.run_id, r) for r in batch.rejects])
    if batch.feed_updates:
        con.register(
            "feed_updates",
            pa.Table.from_pylist(
                [u.__dict__ for u in batch.feed_updates], schema=record_schema(FeedUpdate)
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
        insert(
            con,
            "raw_pages",
            [{**r.__dict__, "run_id": batch.run_id} for r in batch.raw_pages],
            "keep",
        )
    if batch.done and batch.backfill_id:
        now = datetime.now(UTC)
        rows = [
            {"backfill_id": batch.backfill_id, "url": u, "outcome": o, "done_at": now}
            for u, o in batch.done.items()
        ]
        con.register(
            "done_rows",
            pa.Table.from_pylist(rows, schema=table_schema(con, "backfill_done", list(rows[0]))),
        )
        try:
            # a 'retry' checkpoint gives way to a final outcome, never the reverse
            con.execute("""
                UPDATE backfill_done SET outcome = d.outcome, done_at = d.done_at
                FROM done_rows d
                WHERE backfill_done.backfill_id = d.backfill_id AND backfill_done.url = d.url
                  AND backfill_done.outcome = 'retry' AND d.outcome <> 'retry'
            """)
            insert_rows(con, "backfill_done", "done_rows")
        finally:
            con.unregister("done_rows")
    counts.update(_write_pending(con, batch))
    for table, records in (("robots", batch.robots), ("tdmrep", batch.tdmrep)):
        if records:
            insert(con, table, [r.__dict__ for r in records], "update")
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
    written = insert(con, "pending_pages", rows, "update")
    return {"pending_written": written, "pending_cleared": len(set(batch.pending_done))}


def due_pending(
    con: duckdb.DuckDBPyConnection, now: datetime, source_ids: Sequence[str] = (), limit: int = 0
) -> list[PendingPage]:
    """Links whose next attempt has come, oldest first (feeds still in the registry)."""
    with values(con, "wanted_sources", source_id=source_ids):
        rows = con.execute(
            f"""
        SELECT p.url, p.feed_id, p.source_id, p.kind, p.link, p.guid, p.title, p.summary,
               p.content, p.author, p.published_at, p.updated_at, p.language, p.via,
               p.first_seen_at, p.attempts, p.next_attempt_at, p.last_reason
        FROM pending_pages p
        WHERE p.next_attempt_at <= ?
          AND p.source_id IN (SELECT source_id FROM sources)
          {"AND p.source_id IN (SELECT source_id FROM wanted_sources)" if source_ids else ""}
        ORDER BY p.first_seen_at, p.url, p.feed_id
        {"LIMIT " + str(int(limit)) if limit > 0 else ""}
        """,
            [now],
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


def staged_recorded(con: duckdb.DuckDBPyConnection, batch_ids: Sequence[str]) -> set[str]:
    """Which of these staged batches have been written (by any loader)."""
    with values(con, "wanted_batches", batch_id=batch_ids):
        rows = con.execute(
            "SELECT batch_id FROM staged_batches JOIN wanted_batches USING (batch_id)"
        ).fetchall()
    return {r[0] for r in rows}
