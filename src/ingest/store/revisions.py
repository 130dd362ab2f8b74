"""Revisions: the one revision writer (polls, page retries, reprocess), and
the stored pages a reprocess reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from ingest.dedup import METADATA_FIELDS, reextraction_revision
from ingest.records import Fingerprint, Provenance, Reextracted, Revision, Rights, StoredPage
from ingest.store.connection import transaction
from ingest.store.schema import encoder, insert_rows, table_schema, values
from ingest.store.stories import recluster, refresh_clusters


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
    rows = [
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
            "rights": encoder(Rights)(r.rights),
            "reuse": r.reuse,
            "provenance": encoder(Provenance)(r.provenance),
        }
        for r in revisions
    ]
    schema = table_schema(con, ["article_revisions", "articles"], list(rows[0]))
    con.register("revised", pa.Table.from_pylist(rows, schema=schema))
    try:
        insert_rows(
            con,
            "article_revisions",
            """(
            SELECT r.article_id, r.revision, r.revised_at, r.run_id, r.changed, r.fields,
                   a.title AS old_title, r.title AS new_title,
                   a.content_hash AS old_content_hash, r.content_hash AS new_content_hash,
                   a.body AS old_body, a.word_count AS old_word_count,
                   a.rights AS old_rights, a.reuse AS old_reuse, a.provenance AS old_provenance
            FROM revised r JOIN articles a USING (article_id))""",
        )
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
                rights = coalesce(r.rights, articles.rights),
                reuse = coalesce(r.reuse, articles.reuse),
                provenance = coalesce(r.provenance, articles.provenance),
                revision = r.revision, updated_at = r.revised_at
            FROM revised r WHERE articles.article_id = r.article_id
        """)
    finally:
        con.unregister("revised")
    moved = {r.article_id: fingerprints[r.article_id] for r in revisions if r.body_changed}
    return recluster(con, moved, window_days)


def stored_pages(
    con: duckdb.DuckDBPyConnection, since: datetime | None, source_ids: Sequence[str]
) -> list[StoredPage]:
    with values(con, "wanted_sources", source_id=source_ids):
        rows = con.execute(
            f"""
        SELECT a.article_id, a.source_id, a.url, r.final_url, r.sha256, a.title, a.content_hash,
               a.author, a.language, a.wire_service, a.extractor, a.cluster_id, a.published_at,
               a.first_seen_at, coalesce(a.revision, 0), coalesce(a.body_status, 'page'),
               a.authors, a.published_precision, a.modified_at, a.description, a.image_url,
               a.section, a.keywords
        FROM articles a
        JOIN article_urls u USING (article_id)
        JOIN raw_pages r ON r.url = u.url
        WHERE (?::TIMESTAMPTZ IS NULL OR coalesce(a.published_at, a.first_seen_at) >= ?)
          {"AND a.source_id IN (SELECT source_id FROM wanted_sources)" if source_ids else ""}
        QUALIFY row_number() OVER (PARTITION BY a.article_id ORDER BY r.fetched_at DESC) = 1
        ORDER BY a.article_id
        """,
            [since, since],
        ).fetchall()
    width = len(METADATA_FIELDS)
    return [
        replace(
            StoredPage(*row[:-width]),
            metadata=dict(zip(METADATA_FIELDS, row[-width:], strict=True)),
        )
        for row in rows
    ]


def _reprocessed_provenance(con: duckdb.DuckDBPyConnection, updates: Sequence[Reextracted]) -> None:
    """The row's provenance names the extraction that now made it (the
    extractor, its path and settings, the raw page it read); how the article
    was found and fetched stays."""
    with values(
        con,
        "reprocessed",
        article_id=[u.page.article_id for u in updates],
        extractor=[u.extractor for u in updates],
        extraction=[u.metadata.extraction if u.metadata else None for u in updates],
        raw_sha256=[u.page.sha256 for u in updates],
    ):
        con.execute("""
            UPDATE articles SET provenance = struct_update(articles.provenance,
                extractor := r.extractor, extraction := r.extraction, raw_sha256 := r.raw_sha256)
            FROM reprocessed r
            WHERE articles.article_id = r.article_id AND articles.provenance IS NOT NULL
        """)


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
    pairs = [(u, r) for u in updates if (r := reextraction_revision(u, now)) is not None]
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
        # after the revision rows took the old provenance
        _reprocessed_provenance(con, [u for u, _ in pairs])
        if dirty:
            refresh_clusters(con, dirty)
    return len(revisions)
