"""Story clusters: candidates from the LSH bands, placement by the one
clustering rule (:func:`ingest.dedup.assign_clusters`), and each cluster's
origin, size and first publication.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ingest.dedup import assign_clusters, story_item
from ingest.near import fingerprint
from ingest.records import Article, Fingerprint, Member, Resolution, StoryItem
from ingest.store.schema import insert, insert_rows, key_in, table_schema, values

# Stored candidates verified per new article (the best by shared bands).
MAX_CANDIDATES = 8

# recent_bands holds the bands from the horizon on: the newest story time
# loaded (at most now) less the window and this margin, so that a live
# article up to a week older than the newest still finds its whole window
# there. The horizon moves in whole days: one delete a day, not one a batch.
RECENT_MARGIN = timedelta(days=7)
HORIZON_STEP = timedelta(days=1)


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


def _horizon(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """Since when ``recent_bands`` holds every band of ``article_bands`` (None:
    not built yet)."""
    row = con.execute("SELECT max(horizon) FROM band_horizon").fetchone()
    return row[0] if row else None


def _advance_horizon(
    con: duckdb.DuckDBPyConnection, items: Sequence[StoryItem], window_days: int
) -> datetime | None:
    """Move the horizon of ``recent_bands`` up to the batch: the newest story
    time loaded (at most now: a date in the future does not count) less the
    window and :data:`RECENT_MARGIN`. It only moves forward, by whole steps
    of :data:`HORIZON_STEP` (one delete a day, not one a batch); the first
    load builds the table from ``article_bands``. Returns the horizon."""
    stored = _horizon(con)
    if not items:
        return stored
    anchor = min(datetime.now(UTC), max(i.story_at for i in items))
    target = anchor - timedelta(days=window_days) - RECENT_MARGIN
    if stored is None:
        con.execute(
            "INSERT INTO recent_bands BY NAME SELECT * FROM article_bands WHERE story_at >= ?",
            [target],
        )
        con.execute("INSERT INTO band_horizon VALUES (?)", [target])
        return target
    if target - stored < HORIZON_STEP:
        return stored
    con.execute("DELETE FROM recent_bands WHERE story_at < ?", [target])
    con.execute("UPDATE band_horizon SET horizon = ?", [target])
    return target


def _band_pairs(
    con: duckdb.DuckDBPyConnection, table: str, items: Sequence[StoryItem], window_days: int
) -> list[tuple[str, str]]:
    """(item, stored article) pairs sharing an LSH band in ``table`` within the
    time window, the best ``MAX_CANDIDATES`` per item by shared bands."""
    new_bands = [
        {"article_id": i.article_id, "band": b, "bucket": k, "story_at": i.story_at}
        for i in items
        if i.fingerprint.matchable
        for b, k in i.fingerprint.bands
    ]
    if not new_bands:
        return []
    times = [i.story_at for i in items]
    lo = min(times) - timedelta(days=window_days)
    hi = max(times) + timedelta(days=window_days)
    con.register(
        "new_bands",
        pa.Table.from_pylist(new_bands, schema=table_schema(con, table, list(new_bands[0]))),
    )
    try:
        pairs: list[tuple[str, str]] = con.execute(
            f"""
            SELECT n.article_id AS new_id, b.article_id
            FROM new_bands n JOIN {table} b USING (band, bucket)
            WHERE b.story_at BETWEEN n.story_at - to_days(?) AND n.story_at + to_days(?)
              -- constant bounds too: where bands were appended in time order,
              -- DuckDB's zone maps skip the row groups outside the window
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
    return pairs


def _story_candidates(
    con: duckdb.DuckDBPyConnection, items: Sequence[StoryItem], window_days: int
) -> dict[str, list[Member]]:
    """Stored articles that share an LSH band with each item and lie within
    the time window: item article id -> candidate members (the best
    ``MAX_CANDIDATES`` by shared bands). An item is never its own candidate.

    An item whose whole window lies after the horizon is looked up in
    ``recent_bands``, which holds every band from the horizon on: the same
    candidates as ``article_bands`` would give, at a cost that does not grow
    with the history. Older items (a backfill, a revision of an old article)
    are looked up in ``article_bands``."""
    horizon = _advance_horizon(con, items, window_days)
    window = timedelta(days=window_days)
    recent = [i for i in items if horizon is not None and i.story_at - window >= horizon]
    older = [i for i in items if horizon is None or i.story_at - window < horizon]
    pairs = _band_pairs(con, "recent_bands", recent, window_days) + _band_pairs(
        con, "article_bands", older, window_days
    )
    wanted = sorted({old for _, old in pairs})
    members: dict[str, Member] = {}
    if wanted:
        # a join, not list_contains over every stored row: its cost is one
        # scan of the ids, not one per candidate
        # bodies only of the members whose fingerprint is not cached
        with (
            key_in(con, "article_id", wanted) as wanted_member,
            values(con, "cached_members", key=list(_MEMBER_CACHE)),
        ):
            rows = con.execute(
                "SELECT article_id, cluster_id, content_hash, "
                "CASE WHEN article_id || content_hash IN (SELECT key FROM cached_members) "
                f"THEN NULL ELSE body END FROM articles WHERE {wanted_member}"
            ).fetchall()
        for article_id, cluster_id, content, body in rows:
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
    with (
        values(con, "wanted_texts", content_hash=hashes),
        values(con, "excluded", article_id=sorted(exclude)),
    ):
        same_text = dict(
            con.execute(
                "SELECT content_hash, arg_min(cluster_id, first_seen_at) "
                "FROM articles JOIN wanted_texts USING (content_hash) "
                "WHERE article_id NOT IN (SELECT article_id FROM excluded) GROUP BY ALL"
            ).fetchall()
        )
    return assign_clusters(items, _story_candidates(con, items, window_days), same_text)


def cluster_new(con: duckdb.DuckDBPyConnection, res: Resolution, window_days: int) -> list[Article]:
    """Near-duplicate clustering of the batch's new articles against the warehouse."""
    items = [story_item(a, res.fingerprints[a.article_id]) for a in res.articles]
    placed = _place_stories(con, items, window_days)
    return [
        replace(a, cluster_id=placed[a.article_id][0], cluster_score=placed[a.article_id][1])
        for a in res.articles
    ]


def insert_bands(con: duckdb.DuckDBPyConnection, items: Sequence[StoryItem]) -> None:
    """The items' bands, into ``article_bands`` and, from the horizon on,
    ``recent_bands`` (before the first load builds it: only the former)."""
    rows: list[dict[str, Any]] = [
        {"band": b, "bucket": k, "article_id": i.article_id, "story_at": i.story_at}
        for i in items
        if i.fingerprint.matchable
        for b, k in i.fingerprint.bands
    ]
    insert(con, "article_bands", rows)
    horizon = _horizon(con) if rows else None
    if horizon is not None:
        insert(con, "recent_bands", [r for r in rows if r["story_at"] >= horizon])


def recluster(
    con: duckdb.DuckDBPyConnection, revised: Mapping[str, Fingerprint], window_days: int
) -> set[str]:
    """Stored articles whose text changed: new bands, and the story each now
    belongs to. Returns the clusters to refresh (old and new)."""
    if not revised:
        return set()
    ids = sorted(revised)
    with values(con, "revised_ids", article_id=ids):
        rows = con.execute(
            "SELECT article_id, content_hash, coalesce(published_at, first_seen_at), cluster_id "
            "FROM articles JOIN revised_ids USING (article_id)"
        ).fetchall()
        for table in ("article_bands", "recent_bands"):
            con.execute(
                f"DELETE FROM {table} WHERE article_id IN (SELECT article_id FROM revised_ids)"
            )
    items = [StoryItem(a, h, when, revised[a]) for a, h, when, _ in rows]
    before = {a: c for a, _, _, c in rows}
    placed = _place_stories(con, items, window_days, exclude=ids)
    insert_bands(con, items)
    moved = {a: p for a, p in placed.items() if p[0] != before[a]}
    if moved:
        con.executemany(
            "UPDATE articles SET cluster_id = ?, cluster_score = ? WHERE article_id = ?",
            [[c, score, a] for a, (c, score) in moved.items()],
        )
    return set(before.values()) | {c for c, _ in placed.values()}


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
        insert_rows(
            con,
            "clusters",
            """(
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
            GROUP BY cluster_id)""",
            "update",
        )
        # a cluster left without members (its only article moved on) goes
        con.execute("""
            DELETE FROM clusters WHERE cluster_id IN (SELECT cluster_id FROM dirty_clusters)
              AND cluster_id NOT IN (SELECT cluster_id FROM articles)
        """)
    finally:
        con.unregister("dirty_clusters")
