"""The scheduled ingestion flow: the poll job (``ingest.jobs.poll``) with
Prefect tasks as its steps.

prepare-run -> per feed batch: fetch-feeds -> per group of page chunks:
fetch-extract -> load (the one serialised writer) -> finish-run. The job holds
the wiring; this module adds retries, timeouts, the writer slot across
workers, logs and the run's artifact.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from flows.common import after_loads, final_state, flow_setup, load, quoted, writer_slot
from ingest import pipeline, records
from ingest.extract import warm_pool
from ingest.fetch import Fetcher
from ingest.jobs import poll
from ingest.records import DueFeed, RunEnd, Staged
from ingest.registry import Registry
from ingest.settings import Settings
from ingest.store.feeds import RegistryChangeRefused


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
    accept_registry_change: bool,
) -> records.RunStart:
    return await poll.prepare(
        settings, registry, run_id, all_feeds, source_ids, accept_registry_change
    )


@task(name="fetch-feeds", cache_policy=NO_CACHE, cache_result_in_memory=False, timeout_seconds=900)
async def fetch_feeds(
    fetcher: Fetcher, feeds: list[DueFeed], registry: Registry, settings: Settings, run_id: str
) -> records.FeedBatch:
    return await poll.fetch_feeds(fetcher, feeds, registry, settings, run_id)


@task(
    name="fetch-extract",
    cache_policy=NO_CACHE,
    cache_result_in_memory=False,
    timeout_seconds=3600,
)
async def fetch_extract(
    fetcher: Fetcher,
    chunks: list[records.FeedBatch],
    robots: pipeline.RobotsCache,
    registry: Registry,
    settings: Settings,
    slots: asyncio.Semaphore,
    deadline: float | None,
) -> list[Staged]:
    return await poll.fetch_extract(fetcher, chunks, robots, registry, settings, slots, deadline)


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
    reason: str | None,
    keep_schedules: bool,
) -> RunEnd:
    async with writer_slot():
        return await poll.finish(
            settings, run_id, status, counts, feed_states, reason, keep_schedules
        )


async def publish(counts: Counter[str], run_id: str, report: Path | None = None) -> None:
    table: list[dict[str, Any]] = [{"outcome": k, "count": v} for k, v in sorted(counts.items())]
    await acreate_table_artifact(
        table=table, key="ingest-run-counts", description=f"Outcome counts of run {run_id}"
    )
    await acreate_markdown_artifact(
        markdown=summary_markdown(counts, run_id, report),
        key="ingest-run-summary",
        description=f"Key figures of run {run_id}",
    )


def summary_markdown(counts: Counter[str], run_id: str, report: Path | None) -> str:
    """The run's key figures, and where the latest report is."""
    failed = counts.get("feed_error", 0) + counts.get("feed_failure_transient", 0)
    lines = [
        f"### Run `{run_id}`",
        "",
        "| | |",
        "|---|---:|",
        f"| new articles | {counts.get('articles_new', 0):,} |",
        f"| joined an existing story | {counts.get('articles_joined_story', 0):,} |",
        f"| exact duplicates collapsed | {counts.get('articles_duplicate', 0):,} |",
        f"| revised | {counts.get('articles_revised', 0):,} |",
        f"| feeds due | {counts.get('feeds_due', 0):,} |",
        f"| feeds failed | {failed:,} |",
        f"| pages queued for later | {counts.get('pending_written', 0):,} |",
        f"| rejected items | {counts.get('rejects', 0):,} |",
        "",
    ]
    if report is not None and report.exists():
        lines.append(f"Latest report: [{report.name}]({report.resolve().as_uri()})")
    else:
        lines.append("No report yet: `ingest report --out report.html` writes one.")
    return "\n".join(lines) + "\n"


STEPS = poll.Steps(
    prepare=quoted(prepare_run),
    fetch_feeds=quoted(fetch_feeds),
    fetch_extract=quoted(fetch_extract),
    load=quoted(load),
    finish=quoted(finish_run),
    report=publish,
    after_loads=quoted(after_loads),
)


@flow(name=poll.FLOW, timeout_seconds=6 * 3600)
async def ingest_feeds(
    all_feeds: bool = False,
    warehouse: str | None = None,
    sources: str | None = None,
    source_ids: list[str] | None = None,
    page_budget_seconds: float | None = None,
    accept_registry_change: bool = False,
    settings: Settings | None = None,
) -> dict[str, int] | State[Any]:
    """One ingestion pass over due feeds (all feeds with ``all_feeds``).

    Links held back by earlier runs come first; pages are requested until the
    run's page budget (``page_budget_seconds``, else ``INGEST_PAGE_BUDGET``)
    runs out, and what an origin could not politely give by then waits for
    the next run. ``settings``: those the command line read (else the
    environment's)."""
    settings, registry, run_id = flow_setup(settings, warehouse, sources)
    if page_budget_seconds is not None:
        settings = settings.with_page_budget(page_budget_seconds)
    warm_pool(settings.extract_workers)  # workers start while feeds are fetched
    steps = replace(STEPS, report=lambda counts, run: publish(counts, run, settings.report_path))
    outcome = await poll.run(
        settings,
        registry,
        run_id,
        all_feeds=all_feeds,
        source_ids=source_ids or [],
        accept_registry_change=accept_registry_change,
        steps=steps,
        log=get_run_logger(),
    )
    return final_state(outcome)
