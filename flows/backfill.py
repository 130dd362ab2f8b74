"""The backfill flow: the backfill job (``ingest.jobs.backfill``) with Prefect
tasks as its steps.

plan -> per batch of pages: backfill-fetch-extract (staged as one Parquet file)
-> load (serialised) -> finish. The job holds the wiring; this module adds
timeouts, retries, the writer slot, logs and a progress artifact.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from flows.common import after_loads, final_state, flow_setup, load, quoted, writer_slot
from ingest import pipeline
from ingest.backfill import Params
from ingest.fetch import Fetcher
from ingest.jobs import backfill as job
from ingest.records import PlanItem, RunEnd, Staged
from ingest.registry import Registry
from ingest.settings import Settings


@task(
    name="backfill-fetch-extract",
    cache_policy=NO_CACHE,
    cache_result_in_memory=False,
    timeout_seconds=3600,
)
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
    return await job.fetch_extract(
        fetcher, robots, items, registry, settings, run_id, backfill_id, params
    )


@task(
    name="finish-run",
    cache_policy=NO_CACHE,
    cache_result_in_memory=False,
    retries=2,
    retry_delay_seconds=5,
    timeout_seconds=1800,
)
async def finish(
    settings: Settings, run_id: str, status: str, counts: Counter[str], reason: str | None
) -> RunEnd:
    async with writer_slot():
        return await job.finish(settings, run_id, status, counts, reason)


class ProgressArtifact:
    """The backfill's progress as a Prefect progress artifact."""

    def __init__(self) -> None:
        self.artifact: UUID | None = None

    async def __call__(self, backfill_id: str, done: int, total: int) -> None:
        if self.artifact is None:
            self.artifact = await acreate_progress_artifact(
                progress=0.0, key="backfill-progress", description=f"backfill {backfill_id}"
            )
        if done:
            await aupdate_progress_artifact(
                artifact_id=self.artifact, progress=100.0 * done / max(1, total)
            )


@flow(name=job.FLOW, timeout_seconds=24 * 3600)
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
    settings: Settings | None = None,
) -> dict[str, int] | State[Any]:
    """Ingest history between ``since`` and ``until`` (ISO dates, inclusive).

    Only final outcomes are checkpointed: a page that failed for a reason
    that may pass is fetched again by the same command."""
    settings, registry, run_id = flow_setup(settings, warehouse, sources)
    params = Params(
        since=date.fromisoformat(since),
        until=date.fromisoformat(until) if until else None,
        source_ids=tuple(source_ids or ()),
        urls_file=urls_file,
        warc=tuple(warc or ()),
        include_undated=include_undated,
        oldest_first=oldest_first,
    )
    steps = job.Steps(
        fetch_extract=quoted(fetch_extract),
        load=quoted(load),
        finish=quoted(finish),
        progress=ProgressArtifact(),
        after_loads=quoted(after_loads),
    )
    outcome = await job.run(
        settings,
        registry,
        run_id,
        params,
        accept_registry_change=accept_registry_change,
        steps=steps,
        log=get_run_logger(),
    )
    return final_state(outcome)
