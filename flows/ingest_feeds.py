"""The scheduled ingestion flow: due feeds to warehouse rows.

The body reads like the data flow: prepare -> per feed batch (fetch + parse
-> skip known -> per chunk of pages: fetch, extract, attribute, stage as a
Parquet file) -> load each staged file (the one serialised writer) ->
finish. All logic lives in ``ingest.pipeline``; this module adds retries,
timeouts, concurrency, logs and the run's artifact.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.states import Cancelled, Failed
from prefect.utilities.annotations import quote

from ingest import pipeline, stopping
from ingest.extract import warm_pool
from ingest.fetch import Fetcher
from ingest.records import DueFeed, Staged
from ingest.registry import Registry, load_registry
from ingest.settings import Settings
from ingest.store.feeds import RegistryChangeRefused
from ingest.store.runs import HEARTBEAT_EVERY

T = TypeVar("T")


def q(value: T) -> T:
    """Hand a large argument to a task as is: Prefect then skips walking it
    to look for futures (a batch holds thousands of entries and page bodies)."""
    return cast(T, quote(value))


# The Prefect global concurrency limit that serialises warehouse writes across
# processes and workers. Create it on a Prefect server with
# `prefect gcl create news-ingest-warehouse --limit 1`. Where it does not exist
# (local ephemeral mode) no slot is taken: asking Prefect for a missing limit
# costs seconds per call, and DuckDB's own lock with the bounded retry in
# ingest.warehouse.connect serialises writers anyway.
WRITER_LIMIT = "news-ingest-warehouse"
_limit_exists: bool | None = None


async def _writer_limit_exists() -> bool:
    global _limit_exists  # noqa: PLW0603 - asked once per process
    if _limit_exists is None:
        try:
            async with get_client() as client:
                await client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
            _limit_exists = True
        except ObjectNotFound:
            _limit_exists = False
    return _limit_exists


@asynccontextmanager
async def writer_slot() -> AsyncIterator[None]:
    """One warehouse writer at a time across workers, when the limit exists."""
    if await _writer_limit_exists():
        async with concurrency(WRITER_LIMIT, occupy=1, strict=False):
            yield
    else:
        yield


def flow_setup(warehouse: str | None, sources: str | None) -> tuple[Settings, Registry, str]:
    """Settings (read here, at the flow's entry), the registry, and the run id
    (the Prefect flow run's id, which is also the warehouse's run_id)."""
    settings = Settings.from_env(
        warehouse=Path(warehouse) if warehouse else None, sources=Path(sources) if sources else None
    )
    return settings, load_registry(settings.sources), flow_run.get_id() or pipeline.new_run_id()


# Feed batches polled at once; chunks of pages in flight (fetching or
# extracting) across the run: the next chunks download while the process
# pool extracts, so both cores stay busy with extraction, the expensive step.
BATCHES_IN_FLIGHT = 2
CHUNKS_IN_FLIGHT = pipeline.CHUNKS_IN_FLIGHT
# Pages per chunk (one staged file and one load transaction each), and chunks
# per fetch-extract task: a task run costs the Prefect server and client some
# 40 ms of CPU, so a task handles 4 chunks, and a group's load overlaps the
# extraction of the next group.
PAGE_CHUNK = pipeline.PAGE_CHUNK
CHUNKS_PER_TASK = 4


def transient(task: object, task_run: object, state: State[Any]) -> bool:
    """Retry a task unless it failed for a reason no retry changes (a refused
    registry change: the user has to decide)."""
    return RegistryChangeRefused.__name__ not in (state.message or "")


@task(
    name="prepare-run",
    cache_policy=NO_CACHE,
    cache_result_in_memory=False,
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=transient,
    timeout_seconds=300,
)
async def prepare_run(
    settings: Settings,
    registry: Registry,
    run_id: str,
    all_feeds: bool,
    source_ids: Sequence[str],
    accept_registry_change: bool = False,
) -> pipeline.RunStart:
    return await asyncio.to_thread(
        partial(
            pipeline.prepare_run,
            settings,
            registry,
            run_id,
            "ingest_feeds",
            all_feeds=all_feeds,
            source_ids=source_ids,
            accept_registry_change=accept_registry_change,
        )
    )


@task(name="fetch-feeds", cache_policy=NO_CACHE, cache_result_in_memory=False, timeout_seconds=900)
async def fetch_feeds(
    fetcher: Fetcher, feeds: list[DueFeed], registry: Registry, settings: Settings, run_id: str
) -> pipeline.FeedBatch:
    results = await pipeline.fetch_feeds(fetcher, feeds)
    batch = pipeline.parse_feeds(feeds, results, registry, settings, run_id)
    return await asyncio.to_thread(pipeline.skip_known, batch, settings)


@task(
    name="fetch-extract",
    cache_policy=NO_CACHE,
    cache_result_in_memory=False,
    timeout_seconds=3600,
)
async def fetch_extract(
    fetcher: Fetcher,
    chunks: list[pipeline.FeedBatch],
    robots: pipeline.RobotsCache,
    registry: Registry,
    settings: Settings,
    slots: asyncio.Semaphore,
    deadline: float | None = None,
) -> list[Staged]:
    """Chunks of pages: fetch, extract, attribute, and stage each for the loader.

    Only the staged files' names leave the task: pages and bodies never pass
    through Prefect, and the loader needs nothing but the staging directory.
    ``deadline``: the run's page budget (wall clock)."""
    return await pipeline.stage_chunks(
        fetcher, chunks, robots, registry, settings, slots=slots, deadline=deadline
    )


@task(
    name="load",
    cache_policy=NO_CACHE,
    cache_result_in_memory=False,
    retries=3,
    retry_delay_seconds=[5, 15, 60],
    timeout_seconds=1800,
)
async def load(settings: Settings, staged: list[Staged]) -> Counter[str]:
    """The one writer: staged batches into the warehouse, in order, each exactly once."""
    async with writer_slot():
        return await asyncio.to_thread(pipeline.load_staged_files, settings, staged)


@task(
    name="finish-run",
    cache_policy=NO_CACHE,
    cache_result_in_memory=False,
    retries=2,
    retry_delay_seconds=5,
    timeout_seconds=1800,
)
async def finish_run(
    settings: Settings,
    run_id: str,
    status: str,
    counts: Counter[str],
    feed_states: list[Staged],
    reason: str | None = None,
    keep_schedules: bool = False,
) -> str:
    """The feed batches' own rows, leftovers that crashed runs staged,
    raw-archive retention, and the run's row; returns the final status.
    ``keep_schedules``: the run was offline, no feed's schedule moves."""
    async with writer_slot():
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


@asynccontextmanager
async def heartbeat(settings: Settings, run_id: str) -> AsyncIterator[None]:
    """Keep the run's heartbeat fresh while inside: another run takes a run
    without one for dead and marks it abandoned."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY.total_seconds())
            await asyncio.to_thread(pipeline.beat, settings, run_id)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


@flow(name="ingest_feeds", timeout_seconds=6 * 3600)
async def ingest_feeds(
    all_feeds: bool = False,
    warehouse: str | None = None,
    sources: str | None = None,
    source_ids: list[str] | None = None,
    page_budget_seconds: float | None = None,
    accept_registry_change: bool = False,
) -> dict[str, int] | State[Any]:
    """One ingestion pass over due feeds (all feeds with ``all_feeds``).

    Links held back by earlier runs come first; pages are requested until the
    run's page budget (``page_budget_seconds``, else ``INGEST_PAGE_BUDGET``)
    runs out, and what an origin could not politely give by then waits for
    the next run."""
    log = get_run_logger()
    settings, registry, run_id = flow_setup(warehouse, sources)
    if page_budget_seconds is not None:
        settings = replace(settings, page_budget_seconds=page_budget_seconds or None)
    deadline = pipeline.page_deadline(settings)
    warm_pool(settings.extract_workers)  # workers start while feeds are fetched
    start = await prepare_run(
        settings, q(registry), run_id, all_feeds, source_ids or [], accept_registry_change
    )
    feeds = start.feeds
    robots = pipeline.RobotsCache(start.robots, settings)
    log.info(
        "run %s: %d feeds due of %d in %s; %d held-back links due",
        run_id,
        len(feeds),
        sum(1 for _ in registry.feeds()),
        settings.sources,
        len(start.pending.new_entries) if start.pending else 0,
    )
    for dead in start.abandoned:
        log.warning("run %s had no heartbeat for long: marked abandoned", dead)
    counts: Counter[str] = Counter(feeds_due=len(feeds), runs_abandoned=len(start.abandoned))
    hosts: dict[str, bool] = {}
    feed_slots = asyncio.Semaphore(BATCHES_IN_FLIGHT)
    chunk_slots = asyncio.Semaphore(CHUNKS_IN_FLIGHT)
    load_lock = asyncio.Lock()  # one writer: loads are serialised
    feed_states: list[Staged] = []

    async def one_group(fetcher: Fetcher, chunks: list[pipeline.FeedBatch]) -> Counter[str]:
        staged = await fetch_extract(
            fetcher, q(chunks), q(robots), q(registry), settings, q(chunk_slots), deadline
        )
        counts: Counter[str] = Counter()
        for s in staged:
            counts.update(s.counts)
        async with load_lock:
            counts.update(await load(settings, staged))
        return counts

    async def pages_of(fetcher: Fetcher, batch: pipeline.FeedBatch) -> Counter[str]:
        """A batch's pages, then its own rows (feed states, listings, feed
        fetches, links leaving the queue), staged once every page is in and
        loaded by finish-run (one load for every batch of the run)."""
        chunks = pipeline.page_chunks(batch, PAGE_CHUNK)
        groups = [chunks[i : i + CHUNKS_PER_TASK] for i in range(0, len(chunks), CHUNKS_PER_TASK)]
        counts: Counter[str] = Counter()
        for result in await asyncio.gather(*(one_group(fetcher, g) for g in groups)):
            counts.update(result)
        staged = await asyncio.to_thread(pipeline.stage, settings, batch)
        counts.update(staged.counts)
        feed_states.append(staged)
        return counts

    async def one_batch(fetcher: Fetcher, feed_batch: list[DueFeed]) -> Counter[str]:
        async with feed_slots:
            batch = await fetch_feeds(fetcher, feed_batch, q(registry), settings, run_id)
        for host, reached in batch.hosts.items():
            hosts[host] = hosts.get(host, False) or reached
        return await pages_of(fetcher, batch)

    status = "failed"
    reason: str | None = None
    try:
        async with heartbeat(settings, run_id), Fetcher(settings) as fetcher:
            robots.apply_delays(fetcher)
            batches = pipeline.batched(feeds, settings.feed_batch_size)
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
        status = await finish_run(
            settings, run_id, status, counts, q(feed_states), reason, counts["offline"] > 0
        )
        await _publish(counts, run_id)
    log.info("run %s %s: %s", run_id, status, dict(sorted(counts.items())))
    if status == "stopped":
        return stopped(reason)
    if status != "completed":
        if counts["feed_states_not_loaded"]:
            reason = (
                f"{reason or 'run failed'}; feed states of "
                f"{counts['feed_states_not_loaded']} batch(es) not loaded (the next run loads them)"
            )
        return Failed(message=reason or "run failed; see the logs")
    return dict(counts)


def stopped(reason: str | None) -> State[Any]:
    """The final state of a run stopped early on request (Ctrl+C, SIGTERM):
    cancelled, with the reason; what it fetched is loaded. A state rather
    than an exception: an expected end needs no traceback in the log."""
    return Cancelled(message=reason or "stopped")


async def _publish(counts: Counter[str], run_id: str) -> None:
    table: list[dict[str, Any]] = [{"outcome": k, "count": v} for k, v in sorted(counts.items())]
    await acreate_table_artifact(
        table=table, key="ingest-run-counts", description=f"Outcome counts of run {run_id}"
    )
