"""What the flows share: settings at the entry, the one-writer slot, quoting,
and the final state of a run."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.states import Cancelled, Failed
from prefect.utilities.annotations import quote

from ingest import pipeline
from ingest.jobs import common, poll
from ingest.jobs.common import RunOutcome
from ingest.location import data_path_of, location_text, parse_warehouse
from ingest.records import Staged
from ingest.registry import Registry, load_registry
from ingest.settings import Settings

T = TypeVar("T")


def q(value: T) -> T:
    """Hand a large argument to a task as is: Prefect then skips walking it
    to look for futures (a batch holds thousands of entries and page bodies)."""
    return cast(T, quote(value))


def quoted(step: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """A task as a job's step: every argument handed over as is (see :func:`q`)."""

    async def call(*args: Any) -> T:
        return await step(*(q(a) for a in args))

    return call


# The Prefect global concurrency limit that serialises warehouse writes across
# processes and workers. Create it on a Prefect server with
# `prefect gcl create news-ingest-warehouse --limit 1`. Where it does not exist
# (local ephemeral mode) no slot is taken: asking Prefect for a missing limit
# costs seconds per call, and DuckDB's own lock with the bounded retry in
# ingest.store.connection.connect serialises writers anyway.
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


def flow_setup(
    settings: Settings | None, warehouse: str | None, sources: str | None
) -> tuple[Settings, Registry, str]:
    """The run's settings (those the command line read and handed over, else
    the environment, read here at the flow's entry: a deployment's run), with
    the warehouse and registry given as parameters; the registry; and the run
    id (the Prefect flow run's id, which is also the warehouse's run_id)."""
    base = settings or Settings.from_env()
    settings = replace(
        base,
        warehouse=(
            parse_warehouse(warehouse, data_path_of(base.warehouse))
            if warehouse and warehouse != location_text(base.warehouse)
            else base.warehouse
        ),
        sources=Path(sources) if sources else base.sources,
    )
    return settings, load_registry(settings.sources), flow_run.get_id() or pipeline.new_run_id()


def final_state(outcome: RunOutcome) -> dict[str, int] | State[Any]:
    """A completed run returns its counts; a run stopped on request (Ctrl+C,
    SIGTERM) ends cancelled and a failed one failed, each with its reason. A
    state rather than an exception: an expected end needs no traceback."""
    if outcome.status == "stopped":
        return Cancelled(message=outcome.reason or "stopped")
    if outcome.status != "completed":
        return Failed(message=outcome.reason or "run failed; see the logs")
    return dict(outcome.counts)


# The one writer of a run: staged batches into the warehouse, in order, each
# exactly once (the poll's and the backfill's load step).
@task(
    name="load",
    cache_policy=NO_CACHE,
    cache_result_in_memory=False,
    retries=3,
    retry_delay_seconds=[5, 15, 60],
    timeout_seconds=1800,
)
async def load(settings: Settings, staged: list[Staged]) -> Counter[str]:
    async with writer_slot():
        return await poll.load(settings, staged)


@task(
    name="after-loads",
    cache_policy=NO_CACHE,
    cache_result_in_memory=False,
    timeout_seconds=3600,
)
async def after_loads(settings: Settings, counts: Mapping[str, int]) -> dict[str, int]:
    """The completeness alerts evaluated, the search index and the latest
    report brought up to date after the run's loads (a failure is counted, not
    the run's: the next run catches up). Each alert opened or closed is a
    Prefect event, ``news-ingest.alert.opened`` / ``.closed``, for automations."""
    return await common.after_loads(settings, counts, on_alert=emit_alert)


def emit_alert(change: Any) -> None:
    """A Prefect event for an alert opened or closed (its resource: the alert's
    kind and subject; its payload: the rule's evidence)."""
    from prefect.events import emit_event  # noqa: PLC0415

    emit_event(
        event=f"news-ingest.alert.{change.action}",
        resource={
            "prefect.resource.id": f"news-ingest.alert.{change.kind}.{change.subject}",
            "prefect.resource.name": f"{change.kind} {change.subject}",
            "news-ingest.alert-kind": change.kind,
        },
        payload={"alert_id": change.alert_id, "evidence": change.evidence},
    )
