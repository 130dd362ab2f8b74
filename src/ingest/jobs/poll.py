"""The poll job: one ingestion pass over the due feeds.

prepare (migrate, sync the registry, list due feeds and held-back links)
-> per feed batch, two at once: fetch-feeds (fetch, parse, skip known)
   -> per group of page chunks: fetch-extract (fetch, extract, attribute,
      stage each chunk as a Parquet file) -> load (the one serialised writer)
   -> the batch's own rows (feed states, listings) staged once its pages are in
-> finish (load the feed states, leftovers of crashed runs, retention, the run's row)

Held-back links (``pending_pages``) go first; pages are requested until the
run's page budget runs out. The scheduled flow (``flows/ingest_feeds.py``)
runs this with Prefect tasks as its steps; tests run it with the plain ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from ingest import pipeline, records, stopping
from ingest.fetch import Fetcher
from ingest.jobs.common import Log, RunOutcome, after_loads, heartbeat
from ingest.pipeline.polling import batch_size, spread_hosts
from ingest.records import DueFeed, Staged
from ingest.registry import Registry
from ingest.settings import Settings

FLOW = "ingest_feeds"


async def prepare(
    settings: Settings,
    registry: Registry,
    run_id: str,
    all_feeds: bool,
    source_ids: Sequence[str],
    accept_registry_change: bool,
) -> records.RunStart:
    return await asyncio.to_thread(
        partial(
            pipeline.prepare_run,
            settings,
            registry,
            run_id,
            FLOW,
            all_feeds=all_feeds,
            source_ids=source_ids,
            accept_registry_change=accept_registry_change,
        )
    )


async def fetch_feeds(
    fetcher: Fetcher, feeds: list[DueFeed], registry: Registry, settings: Settings, run_id: str
) -> records.FeedBatch:
    results = await pipeline.fetch_feeds(fetcher, feeds)
    batch = pipeline.parse_feeds(feeds, results, registry, settings, run_id)
    return await asyncio.to_thread(pipeline.skip_known, batch, settings)


async def fetch_extract(
    fetcher: Fetcher,
    chunks: list[records.FeedBatch],
    robots: pipeline.RobotsCache,
    registry: Registry,
    settings: Settings,
    slots: asyncio.Semaphore,
    deadline: float | None,
) -> list[Staged]:
    """Chunks of pages: fetch, extract, attribute, and stage each for the
    loader. Only the staged files' names come back: pages and bodies never
    pass between steps."""
    return await pipeline.stage_chunks(
        fetcher, chunks, robots, registry, settings, slots=slots, deadline=deadline
    )


async def load(settings: Settings, staged: list[Staged]) -> Counter[str]:
    """The one writer: staged batches into the warehouse, in order, each exactly once."""
    return await asyncio.to_thread(pipeline.load_staged_files, settings, staged)


async def finish(
    settings: Settings,
    run_id: str,
    status: str,
    counts: Counter[str],
    feed_states: list[Staged],
    reason: str | None,
    keep_schedules: bool,
) -> records.RunEnd:
    """The feed batches' own rows, leftovers that crashed runs staged,
    raw-archive retention, and the run's row; returns the final status and counts.
    ``keep_schedules``: the run was offline, no feed's schedule moves."""
    return await asyncio.to_thread(
        partial(
            pipeline.end_run,
            settings,
            run_id,
            status,
            counts,
            feed_states,
            reason=reason,
            keep_schedules=keep_schedules,
        )
    )


async def no_report(counts: Counter[str], run_id: str) -> None:
    """Where a run's counts are published (a Prefect artifact in the flow)."""


@dataclass(frozen=True)
class Steps:
    """The poll's steps: the plain functions above, or Prefect tasks over them."""

    prepare: Callable[
        [Settings, Registry, str, bool, Sequence[str], bool], Awaitable[records.RunStart]
    ] = prepare
    fetch_feeds: Callable[
        [Fetcher, list[DueFeed], Registry, Settings, str], Awaitable[records.FeedBatch]
    ] = fetch_feeds
    fetch_extract: Callable[
        [
            Fetcher,
            list[records.FeedBatch],
            pipeline.RobotsCache,
            Registry,
            Settings,
            asyncio.Semaphore,
            float | None,
        ],
        Awaitable[list[Staged]],
    ] = fetch_extract
    load: Callable[[Settings, list[Staged]], Awaitable[Counter[str]]] = load
    finish: Callable[
        [Settings, str, str, Counter[str], list[Staged], str | None, bool],
        Awaitable[records.RunEnd],
    ] = finish
    report: Callable[[Counter[str], str], Awaitable[None]] = no_report
    after_loads: Callable[[Settings, Mapping[str, int]], Awaitable[dict[str, int]]] = after_loads


async def run(
    settings: Settings,
    registry: Registry,
    run_id: str,
    *,
    all_feeds: bool = False,
    source_ids: Sequence[str] = (),
    accept_registry_change: bool = False,
    steps: Steps | None = None,
    log: Log | None = None,
) -> RunOutcome:
    """One ingestion pass over due feeds (all feeds with ``all_feeds``)."""
    steps = steps or Steps()
    log = log or logging.getLogger("ingest.poll")
    deadline = pipeline.page_deadline(settings)
    start = await steps.prepare(
        settings, registry, run_id, all_feeds, list(source_ids), accept_registry_change
    )
    feeds = start.feeds
    robots = pipeline.RobotsCache(start.robots, settings, start.tdmrep)
    log.info(
        "run %s: %d feeds due of %d in %s; %d held-back links due",
        run_id,
        len(feeds),
        sum(len(s.feeds) for s in registry),
        settings.sources,
        len(start.pending.new_entries) if start.pending else 0,
    )
    for dead in start.abandoned:
        log.warning("run %s had no heartbeat for long: marked abandoned", dead)
    counts: Counter[str] = Counter(feeds_due=len(feeds), runs_abandoned=len(start.abandoned))
    hosts: dict[str, bool] = {}
    feed_slots = asyncio.Semaphore(settings.feed_batches_in_flight)
    chunk_slots = asyncio.Semaphore(settings.page_chunks_in_flight)
    load_lock = asyncio.Lock()  # one writer: loads are serialised
    feed_states: list[Staged] = []

    async def one_group(fetcher: Fetcher, chunks: list[records.FeedBatch]) -> Counter[str]:
        staged = await steps.fetch_extract(
            fetcher, chunks, robots, registry, settings, chunk_slots, deadline
        )
        counts: Counter[str] = Counter()
        for s in staged:
            counts.update(s.counts)
        async with load_lock:
            counts.update(await steps.load(settings, staged))
        return counts

    async def pages_of(fetcher: Fetcher, batch: records.FeedBatch) -> Counter[str]:
        """A batch's pages, then its own rows (feed states, listings, feed
        fetches, links leaving the queue), staged once every page is in and
        loaded by finish (one load for every batch of the run)."""
        chunks, batch = pipeline.page_chunks(batch, settings.page_chunk)
        size = settings.page_chunks_per_task
        groups = [chunks[i : i + size] for i in range(0, len(chunks), size)]
        counts: Counter[str] = Counter()
        for result in await asyncio.gather(*(one_group(fetcher, g) for g in groups)):
            counts.update(result)
        staged = await asyncio.to_thread(pipeline.stage, settings, batch)
        counts.update(staged.counts)
        feed_states.append(staged)
        return counts

    async def one_batch(fetcher: Fetcher, feed_batch: list[DueFeed]) -> Counter[str]:
        async with feed_slots:
            batch = await steps.fetch_feeds(fetcher, feed_batch, registry, settings, run_id)
        for host, reached in batch.hosts.items():
            hosts[host] = hosts.get(host, False) or reached
        return await pages_of(fetcher, batch)

    status = "failed"
    reason: str | None = None
    try:
        async with heartbeat(settings, run_id), Fetcher(settings) as fetcher:
            robots.apply_delays(fetcher)
            # Hosts interleaved, and batches sized to the run: a few tens of
            # steps however big the registry (see polling.batch_size).
            spread = spread_hosts(feeds)
            batches = pipeline.batched(spread, batch_size(len(spread), settings))
            work = [one_batch(fetcher, b) for b in batches]
            if start.pending is not None:
                work.insert(0, pages_of(fetcher, start.pending))  # held-back links first
            outcomes = await asyncio.gather(*work, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                counts["batches_failed"] += 1
                log.error("a feed batch failed: %r", outcome)
            else:
                counts.update(outcome)
        status = "completed" if not counts["batches_failed"] else "failed"
        if counts["batches_failed"]:
            reason = f"{counts['batches_failed']} feed batch(es) failed; see the logs"
        if (offline := pipeline.offline(hosts)) is not None:
            status, reason = "failed", offline
            counts["offline"] = 1
        elif stopping.requested():
            status, reason = "stopped", stopping.reason()
    finally:
        ended = await steps.finish(
            settings, run_id, status, counts, feed_states, reason, counts["offline"] > 0
        )
        status, counts = ended.status, Counter(ended.counts)
        counts.update(await steps.after_loads(settings, counts))
        await steps.report(counts, run_id)
    log.info("run %s %s: %s", run_id, status, dict(sorted(counts.items())))
    if status == "failed" and counts["feed_states_not_loaded"]:
        reason = (
            f"{reason or 'run failed'}; feed states of "
            f"{counts['feed_states_not_loaded']} batch(es) not loaded (the next run loads them)"
        )
    return RunOutcome(run_id, status, dict(counts), reason)
