"""The backfill job: history over a date range, resumable, the poll's stages.

plan (sitemaps, archived feeds, a URL list or WARC files; stored once)
-> per batch of pages: fetch-extract (fetch or read the WARC record, archive,
   extract, attribute, date bounds, checkpoints; staged as one Parquet file)
   -> load (serialised)
-> finish (leftovers of crashed runs, retention, the run's row)

Only final outcomes are checkpointed: a page that failed for a reason that
may pass is fetched again by the same command.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ingest import pipeline, progress, stopping
from ingest.backfill import Params, iter_batches
from ingest.fetch import Fetcher
from ingest.jobs import poll
from ingest.jobs.common import Log, RunOutcome, after_loads, heartbeat
from ingest.records import PlanItem, RunEnd, Staged
from ingest.registry import Registry
from ingest.settings import Settings

FLOW = "backfill"


async def fetch_extract(
    fetcher: Fetcher,
    robots: pipeline.RobotsCache,
    items: list[PlanItem],
    registry: Registry,
    settings: Settings,
    run_id: str,
    backfill_id: str,
    params: Params,
) -> Staged:
    """One batch of the plan, fetched, extracted and staged for the loader:
    like the poll's, only the staged file's name comes back."""
    batch, pages = await pipeline.backfill_pages(
        fetcher,
        robots=robots,
        items=items,
        registry=registry,
        settings=settings,
        run_id=run_id,
        backfill_id=backfill_id,
    )

    def work() -> Staged:
        extracted = pipeline.extract_batch(pages, settings, registry)
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


async def finish(
    settings: Settings, run_id: str, status: str, counts: Counter[str], reason: str | None
) -> RunEnd:
    """Leftovers that crashed runs staged, raw-archive retention, the run's
    row: the poll's end, without feed states."""
    return await poll.finish(settings, run_id, status, counts, [], reason, False)


async def no_progress(backfill_id: str, done: int, total: int) -> None:
    """Where progress is shown (a Prefect progress artifact in the flow)."""


@dataclass(frozen=True)
class Steps:
    """The backfill's steps: the plain functions above, or Prefect tasks over them."""

    fetch_extract: Callable[
        [Fetcher, pipeline.RobotsCache, list[PlanItem], Registry, Settings, str, str, Params],
        Awaitable[Staged],
    ] = fetch_extract
    load: Callable[[Settings, list[Staged]], Awaitable[Counter[str]]] = poll.load
    finish: Callable[[Settings, str, str, Counter[str], str | None], Awaitable[RunEnd]] = finish
    progress: Callable[[str, int, int], Awaitable[None]] = no_progress
    after_loads: Callable[[Settings, Mapping[str, int]], Awaitable[dict[str, int]]] = after_loads


async def run(
    settings: Settings,
    registry: Registry,
    run_id: str,
    params: Params,
    *,
    accept_registry_change: bool = False,
    steps: Steps | None = None,
    log: Log | None = None,
) -> RunOutcome:
    """Ingest history between ``params.since`` and ``params.until``."""
    steps = steps or Steps()
    log = log or logging.getLogger("ingest.backfill")
    counts: Counter[str] = Counter()
    status = "failed"
    reason: str | None = None
    planned = False
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
            planned = True
            counts.update({f"plan_skipped_{k}": v for k, v in start.skipped.items()})
            counts.update(planned=start.planned, to_fetch=len(start.pending), retried=start.retries)
            log.info(
                "backfill %s: %d planned, %d to do (%d of them failed transiently before)",
                start.backfill_id,
                start.planned,
                len(start.pending),
                start.retries,
            )
            robots = pipeline.RobotsCache(start.robots, settings, start.tdmrep)
            robots.apply_delays(fetcher)
            await steps.progress(start.backfill_id, 0, len(start.pending))
            progress.started(len(start.pending), "backfill")
            done = 0
            for items in iter_batches(start.pending, settings.backfill_batch_size):
                if stopping.requested():
                    break
                staged = await steps.fetch_extract(
                    fetcher, robots, items, registry, settings, run_id, start.backfill_id, params
                )
                counts.update(staged.counts)
                counts.update(await steps.load(settings, [staged]))
                done += len(items)
                progress.advanced(len(items))
                await steps.progress(start.backfill_id, done, len(start.pending))
        if stopping.requested():
            status, reason = "stopped", stopping.reason()
        else:
            if not counts["backfill_retry_later"]:
                pipeline.finish_backfill(settings, start.backfill_id)
            status = "completed"
    finally:
        if planned:
            ended = await steps.finish(settings, run_id, status, counts, reason)
            status, counts = ended.status, Counter(ended.counts)
            counts.update(await steps.after_loads(settings, counts))
        else:  # refused before it began (a registry change, say): only the run's row
            await asyncio.to_thread(pipeline.close_run, settings, run_id, status, counts, reason)
    log.info("backfill %s: %s", status, dict(sorted(counts.items())))
    return RunOutcome(run_id, status, dict(counts), reason)
