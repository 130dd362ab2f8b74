"""The reprocess flow: the reprocess job (``ingest.jobs.reprocess``) with
Prefect tasks as its steps.

list stored pages -> per batch: reextract (process pool) -> store-reextracted
(serialised) -> finish. Nothing is fetched.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from flows.common import final_state, flow_setup, quoted, writer_slot
from ingest import records
from ingest.jobs import reprocess as job
from ingest.registry import Registry
from ingest.settings import Settings


@task(name="reextract", cache_policy=NO_CACHE, cache_result_in_memory=False, timeout_seconds=3600)
async def reextract(
    pages: list[records.StoredPage], registry: Registry, settings: Settings
) -> tuple[list[records.Reextracted], Counter[str]]:
    return await job.reextract(pages, registry, settings)


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
        return await job.store(settings, updates, run_id)


STEPS = job.Steps(reextract=quoted(reextract), store=quoted(store))


@flow(name=job.FLOW, timeout_seconds=24 * 3600)
async def reprocess(
    since: str | None = None,
    source_ids: list[str] | None = None,
    warehouse: str | None = None,
    sources: str | None = None,
    accept_registry_change: bool = False,
    settings: Settings | None = None,
) -> dict[str, int] | State[Any]:
    """Re-run extraction, dedup and attribution on stored pages."""
    settings, registry, run_id = flow_setup(settings, warehouse, sources)
    outcome = await job.run(
        settings,
        registry,
        run_id,
        since=datetime.combine(date.fromisoformat(since), time.min, UTC) if since else None,
        source_ids=source_ids or [],
        accept_registry_change=accept_registry_change,
        steps=STEPS,
        log=get_run_logger(),
    )
    return final_state(outcome)
