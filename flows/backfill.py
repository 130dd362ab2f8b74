"""The backfill flow: history for a date range, resumable, same pipeline as polls.

prepare (plan: sitemaps / archived feeds / URL list / WARC, stored once) ->
per batch of pages: fetch (or read the WARC record) -> archive -> extract ->
attribute -> date bounds -> load with checkpoints (serialised) -> finish.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from flows.ingest_feeds import flow_setup, heartbeat, load, q, stopped
from ingest import pipeline, progress, stopping
from ingest.backfill import Params, iter_batches
from ingest.fetch import Fetcher
from ingest.records import PlanItem, Staged
from ingest.registry import Registry
from ingest.settings import Settings


@task(
    name="backfill-fetch", cache_policy=NO_CACHE, cache_result_in_memory=False, timeout_seconds=1800
)
async def fetch_batch(
    fetcher: Fetcher,
    robots: pipeline.RobotsCache,
    items: list[PlanItem],
    registry: Registry,
    settings: Settings,
    run_id: str,
    backfill_id: str,
) -> tuple[pipeline.FeedBatch, list[pipeline.Page]]:
    return await pipeline.backfill_pages(
        fetcher,
        robots=robots,
        items=items,
        registry=registry,
        settings=settings,
        run_id=run_id,
        backfill_id=backfill_id,
    )


@task(
    name="backfill-extract",
    cache_policy=NO_CACHE,
    cache_result_in_memory=False,
    timeout_seconds=1800,
)
async def extract_batch(
    batch: pipeline.FeedBatch,
    pages: list[pipeline.Page],
    registry: Registry,
    settings: Settings,
    params: Params,
) -> Staged:
    def work() -> Staged:
        extracted = pipeline.extract_batch(pages, settings, batch, registry)
        built = pipeline.finish_backfill_batch(
            batch,
            pages=pages,
            extracted=extracted,
            registry=registry,
            settings=settings,
            params=params,
        )
        return pipeline.stage(settings, built)

    return await asyncio.to_thread(work)


@flow(name="backfill", timeout_seconds=24 * 3600)
async def backfill(
    since: str,
    until: str | None = None,
    source_ids: list[str] | None = None,
    urls_file: str | None = None,
    warc: list[str] | None = None,
    warehouse: str | None = None,
    sources: str | None = None,
    include_undated: bool = False,
    oldest_first: bool = False,
    accept_registry_change: bool = False,
) -> dict[str, int] | State[Any]:
    """Ingest history between ``since`` and ``until`` (ISO dates, inclusive).

    Only final outcomes are checkpointed: a page that failed for a reason
    that may pass is fetched again by the same command."""
    log = get_run_logger()
    settings, registry, run_id = flow_setup(warehouse, sources)
    params = Params(
        since=date.fromisoformat(since),
        until=date.fromisoformat(until) if until else None,
        source_ids=tuple(source_ids or ()),
        urls_file=urls_file,
        warc=tuple(warc or ()),
        include_undated=include_undated,
        oldest_first=oldest_first,
    )
    counts: Counter[str] = Counter()
    status = "failed"
    reason: str | None = None
    try:
        async with Fetcher(settings) as fetcher, heartbeat(settings, run_id):
            start = await pipeline.plan_backfill(
                settings,
                registry,
                params,
                run_id,
                fetcher,
                accept_registry_change=accept_registry_change,
            )
            counts.update({f"plan_skipped_{k}": v for k, v in start.skipped.items()})
            counts.update(planned=start.planned, pending=len(start.pending), retried=start.retries)
            log.info(
                "backfill %s: %d planned, %d to do (%d of them failed transiently before)",
                start.backfill_id,
                start.planned,
                len(start.pending),
                start.retries,
            )
            robots = pipeline.RobotsCache(start.robots, settings)
            robots.apply_delays(fetcher)
            artifact = await acreate_progress_artifact(
                progress=0.0, key="backfill-progress", description=f"backfill {start.backfill_id}"
            )
            progress.started(len(start.pending), "backfill")
            done = 0
            for items in iter_batches(start.pending, settings.backfill_batch_size):
                if stopping.requested():
                    break
                batch, pages = await fetch_batch(
                    fetcher, q(robots), q(items), q(registry), settings, run_id, start.backfill_id
                )
                staged = await extract_batch(q(batch), q(pages), q(registry), settings, params)
                counts.update(staged.counts)
                counts.update(await load(settings, [staged]))
                done += len(items)
                progress.advanced(len(items))
                await aupdate_progress_artifact(
                    artifact_id=artifact, progress=100.0 * done / max(1, len(start.pending))
                )
        if stopping.requested():
            status, reason = "stopped", stopping.reason()
        else:
            if not counts["backfill_retry_later"]:
                pipeline.finish_backfill(settings, start.backfill_id)
            status = "completed"
    finally:
        pipeline.finish_run(settings, run_id, status, counts, reason)
    log.info("backfill %s: %s", status, dict(sorted(counts.items())))
    if status == "stopped":
        return stopped(reason)
    return dict(counts)
