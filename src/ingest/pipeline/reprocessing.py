"""Re-extraction of stored raw pages with the current code (no network)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from ingest import records
from ingest.attribute import WireMatcher
from ingest.extract import extract_pages
from ingest.near import fingerprint
from ingest.pipeline.pages import source_context
from ingest.rawstore import RawStore
from ingest.registry import Registry
from ingest.settings import Settings
from ingest.store import connection, revisions
from ingest.text import content_hash as dedup_hash
from ingest.text import word_count


def stored_pages(
    settings: Settings, since: datetime | None, source_ids: Sequence[str]
) -> list[records.StoredPage]:
    with connection.writer(settings.warehouse) as con:
        return revisions.stored_pages(con, since, source_ids)


def reextract(
    pages: Sequence[records.StoredPage], registry: Registry, settings: Settings
) -> tuple[list[records.Reextracted], Counter[str]]:
    """Extract stored raw pages again with the current code (no network)."""
    counts: Counter[str] = Counter()
    store = RawStore(settings.raw_path)
    todo: list[tuple[records.StoredPage, bytes]] = []
    for page in pages:
        if store.exists(page.sha256):
            todo.append((page, store.get(page.sha256)))
        else:
            counts["reprocess_raw_missing"] += 1
    results = extract_pages(
        [
            (
                body,
                p.final_url or p.url,
                source_context(registry, p.source_id, p.final_url or p.url),
            )
            for p, body in todo
        ],
        settings.extract_workers,
    )
    matcher = WireMatcher(registry)
    out: list[records.Reextracted] = []
    for (page, _), ex in zip(todo, results, strict=True):
        if len(ex.body) < settings.min_body_chars:
            counts["reprocess_too_short_kept"] += 1  # the stored body stays
            continue
        author = ex.author or page.author
        wire = matcher.match(ex.body, author)
        out.append(
            records.Reextracted(
                page=page,
                title=ex.title or page.title,
                body=ex.body,
                content_hash=dedup_hash(ex.body),
                word_count=word_count(ex.body),
                author=author,
                language=ex.language or page.language,
                wire_service=None if wire == page.source_id else wire,
                extractor=ex.extractor,
                fingerprint=fingerprint(ex.body),
                metadata=ex,
            )
        )
    counts["reprocess_pages"] += len(pages)
    return out, counts


def apply_reextracted(
    settings: Settings, updates: Sequence[records.Reextracted], run_id: str
) -> dict[str, int]:
    with connection.writer(settings.warehouse) as con:
        changed = revisions.apply_reprocess(con, updates, run_id, settings.cluster_window_days)
    return {"reprocess_changed": changed, "reprocess_unchanged": len(updates) - changed}
