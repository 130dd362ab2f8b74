"""Re-extract stored raw pages with the current code, without refetching.

list stored pages -> per batch: re-extract (process pool) -> store what changed
(revision, row, bands, story) -> finish. Unchanged results leave rows untouched.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, time
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from flows.ingest_feeds import flow_setup, heartbeat, q, stopped, writer_slot
from ingest import pipeline, progress, records, stopping
from ingest.registry import Registry
from ingest.settings import Settings

BATCH = 200


@task(name="reextract", cache_policy=NO_CACHE, cache_result_in_memory=False, timeout_seconds=3600)
async def reextract(
    pages: list[records.StoredPage], registry: Registry, settings: Settings
) -> tuple[list[records.Reextracted], Counter[str]]:
    return await asyncio.to_thread(pipeline.reextract, pages, registry, settings)


@task(
    name="store-reextracted",
    cache_policy=NO_CACHE,
    cache_result_in_memory=False,
    retries=3,
    retry_delay_seconds=[5, 15, 60],
    timeout_seconds=600,
)
async def store(
    settings: Settings, updates: list[records.Reextracted], run_id: str
) -> dict[str, int]:
    async with writer_slot():
        return await asyncio.to_thread(pipeline.apply_reextracted, settings, updates, run_id)


@flow(name="reprocess", timeout_seconds=24 * 3600)
async def reprocess(
    since: str | None = None,
    source_ids: list[str] | None = None,
    warehouse: str | None = None,
    sources: str | None = None,
    accept_registry_change: bool = False,
) -> dict[str, int] | State[Any]:
    """Re-run extraction, dedup and attribution on stored pages."""
    log = get_run_logger()
    settings, registry, run_id = flow_setup(warehouse, sources)
    start = datetime.combine(date.fromisoformat(since), time.min, UTC) if since else None
    counts: Counter[str] = Counter()
    status = "failed"
    reason: str | None = None
    pipeline.start_run(
        settings, registry, run_id, "reprocess", accept_registry_change=accept_registry_change
    )
    try:
        async with heartbeat(settings, run_id):
            pages = pipeline.stored_pages(settings, start, source_ids or [])
            log.info("reprocess: %d stored pages", len(pages))
            progress.started(len(pages), "reprocess")
            for i in range(0, len(pages), BATCH):
                if stopping.requested():
                    break
                part = pages[i : i + BATCH]
                updates, c = await reextract(q(part), q(registry), settings)
                counts.update(c)
                counts.update(await store(settings, q(updates), run_id))
                progress.advanced(len(part))
        status = "completed"
        if stopping.requested():
            status, reason = "stopped", stopping.reason()
    finally:
        pipeline.finish_run(settings, run_id, status, counts, reason)
    log.info("reprocess %s: %s", status, dict(sorted(counts.items())))
    if status == "stopped":
        return stopped(reason)
    return dict(counts)
