"""The reprocess job: stored raw pages re-extracted with the current code.

list the stored pages -> per batch: reextract (process pool) -> store what
changed (revision, row, bands, story; serialised) -> finish. Unchanged
results leave rows untouched; nothing is fetched.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ingest import pipeline, progress, records, stopping
from ingest.jobs.common import Log, RunOutcome, heartbeat
from ingest.registry import Registry
from ingest.settings import Settings

FLOW = "reprocess"


async def reextract(
    pages: list[records.StoredPage], registry: Registry, settings: Settings
) -> tuple[list[records.Reextracted], Counter[str]]:
    return await asyncio.to_thread(pipeline.reextract, pages, registry, settings)


async def store(
    settings: Settings, updates: list[records.Reextracted], run_id: str
) -> dict[str, int]:
    return await asyncio.to_thread(pipeline.apply_reextracted, settings, updates, run_id)


@dataclass(frozen=True)
class Steps:
    """The reprocess steps: the plain functions above, or Prefect tasks over them."""

    reextract: Callable[
        [list[records.StoredPage], Registry, Settings],
        Awaitable[tuple[list[records.Reextracted], Counter[str]]],
    ] = reextract
    store: Callable[[Settings, list[records.Reextracted], str], Awaitable[dict[str, int]]] = store


async def run(
    settings: Settings,
    registry: Registry,
    run_id: str,
    *,
    since: datetime | None = None,
    source_ids: Sequence[str] = (),
    accept_registry_change: bool = False,
    steps: Steps | None = None,
    log: Log | None = None,
) -> RunOutcome:
    """Re-run extraction, dedup and attribution on stored pages."""
    steps = steps or Steps()
    log = log or logging.getLogger("ingest.reprocess")
    counts: Counter[str] = Counter()
    status = "failed"
    reason: str | None = None
    pipeline.open_run(
        settings, registry, run_id, FLOW, accept_registry_change=accept_registry_change
    )
    try:
        async with heartbeat(settings, run_id):
            pages = pipeline.stored_pages(settings, since, source_ids)
            log.info("reprocess: %d stored pages", len(pages))
            progress.started(len(pages), "reprocess")
            size = settings.reprocess_batch_size
            for i in range(0, len(pages), size):
                if stopping.requested():
                    break
                part = pages[i : i + size]
                updates, c = await steps.reextract(part, registry, settings)
                counts.update(c)
                counts.update(await steps.store(settings, updates, run_id))
                progress.advanced(len(part))
        status = "completed"
        if stopping.requested():
            status, reason = "stopped", stopping.reason()
    finally:
        pipeline.close_run(settings, run_id, status, counts, reason)
    log.info("reprocess %s: %s", status, dict(sorted(counts.items())))
    return RunOutcome(run_id, status, dict(counts), reason)
