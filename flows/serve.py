"""Scheduled ingestion in one long-lived process, without workers or work pools.

``ingest serve`` calls :func:`serve_scheduled`: it registers the deployments
with the Prefect server at ``PREFECT_API_URL`` and then runs, **in this
process**, every run of ``ingest_feeds`` the server schedules (or someone
starts: ``prefect deployment run ingest_feeds/ingest-feeds``), one after
another. A pass therefore pays Prefect's and the project's imports once, and
keeps its extraction workers, its TLS context and Prefect's client warm: a
nothing-new pass costs a second or two instead of a fresh process's start-up.
Runs of ``backfill`` and ``reprocess`` (``prefect deployment run
backfill/backfill --param since=2024-01-01``) run beside it, each in a
subprocess of its own (Prefect's runner), since they can take hours. Every run
has this process's environment, so the INGEST_* settings of the shell apply.
The first scheduled pass comes one interval after the start (``ingest run``
does one now).

Stopping: the first Ctrl-C or SIGTERM stops the pass in progress the way
``ingest run`` stops (what was fetched is loaded, the rest waits), takes no
new run and pauses the schedule; a second one quits at once. Cancelling an
in-process run from Prefect's UI stops it the same way.

It needs a Prefect server: the temporary server of Prefect's local ephemeral
mode (no ``PREFECT_API_URL``) does not run the scheduler, so a schedule there
never fires; :func:`serve_scheduled` refuses to start then
(:class:`NoSchedulerError`). ``prefect server start`` in another terminal and
``PREFECT_API_URL=http://127.0.0.1:4200/api`` is enough.

The deployment names are the ones of ``deploy/prefect.yaml``, so the same
``prefect deployment run`` commands work in both setups; do not serve against
a server whose deployments of the same names belong to a work pool, or serving
would take them over.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import threading
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect import Flow, get_client
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import FlowRun
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import Abort
from prefect.flow_engine import run_flow
from prefect.runner import Runner
from prefect.schedules import Interval
from prefect.settings import get_current_settings
from prefect.states import Pending
from prefect.types.entrypoint import EntrypointType
from prefect.utilities.engine import propose_state

from flows.ingest_feeds import ingest_feeds
from ingest import stopping
from ingest.extract import shutdown_pools

log = logging.getLogger("ingest.serve")

SCHEDULED_NAME = "ingest-feeds"
SCHEDULED_TAGS = ["news-ingest", "scheduled"]
# The schedule's slug, as in deploy/prefect.yaml: a schedule with a slug is
# updated in place when the deployment is applied again.
SCHEDULE_SLUG = "ingest-feeds-schedule"
MANUAL_TAGS = ["news-ingest", "manual"]
# Flows served without a schedule when their module can be imported:
# (module, flow function, deployment name).
MANUAL_FLOWS = (
    ("flows.backfill", "backfill", "backfill"),
    ("flows.reprocess", "reprocess", "reprocess"),
)


class NoSchedulerError(RuntimeError):
    """No Prefect server is configured, so nothing would ever be scheduled."""

    def __init__(self) -> None:
        super().__init__(
            "ingest serve needs a Prefect server: Prefect's temporary local server does not "
            "schedule runs. Start one (prefect server start) and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api, or run single passes with `ingest run`."
        )


def _built(
    deployment: RunnerDeployment | Coroutine[Any, Any, RunnerDeployment],
) -> RunnerDeployment:
    """``to_deployment`` returns a coroutine when called inside an event loop."""
    if isinstance(deployment, RunnerDeployment):
        return deployment
    deployment.close()
    raise RuntimeError("serve_scheduled() blocks: call it outside a running event loop")


def scheduled_deployment(
    interval_minutes: int = 15,
    all_feeds: bool = False,
    page_budget: float | None = None,
    where: Mapping[str, str] | None = None,
) -> RunnerDeployment:
    """The ``ingest-feeds`` deployment: one pass every ``interval_minutes``
    (each fetching pages for at most ``page_budget`` seconds; 0: no budget;
    None: the INGEST_PAGE_BUDGET setting). ``where``: the warehouse and
    sources parameters of its runs (else the environment of each run's)."""
    if interval_minutes < 1:
        raise ValueError(f"interval_minutes must be at least 1, not {interval_minutes}")
    # MODULE_PATH: the runs import ``flows.ingest_feeds``, whatever the current
    # directory is (the project is installed), instead of a path relative to it.
    return _built(
        ingest_feeds.to_deployment(
            name=SCHEDULED_NAME,
            schedule=Interval(
                timedelta(minutes=interval_minutes), timezone="UTC", slug=SCHEDULE_SLUG
            ),
            parameters={"all_feeds": all_feeds, **(where or {})}
            | ({} if page_budget is None else {"page_budget_seconds": page_budget}),
            tags=SCHEDULED_TAGS,
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
    )


def manual_deployments(where: Mapping[str, str] | None = None) -> list[RunnerDeployment]:
    """Unscheduled deployments of the other flows, those that can be imported
    (``where``: their default warehouse and sources parameters)."""
    deployments: list[RunnerDeployment] = []
    for module_name, attribute, name in MANUAL_FLOWS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # the flow exists but one of its imports is missing
                raise
            continue
        candidate = getattr(module, attribute, None)
        if isinstance(candidate, Flow):
            deployments.append(
                _built(
                    candidate.to_deployment(
                        name=name,
                        tags=MANUAL_TAGS,
                        parameters=dict(where or {}),
                        entrypoint_type=EntrypointType.MODULE_PATH,
                    )
                )
            )
    return deployments


def _due_first(run: FlowRun) -> datetime:
    return run.next_scheduled_start_time or run.expected_start_time or datetime.now(UTC)


async def _watch_cancel(client: PrefectClient, flow_run_id: UUID, every: float) -> None:
    """Stop the in-process run when someone cancels it in Prefect."""
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):  # the server may be restarting
            run = await client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_cancelling():
                stopping.request("cancelled in Prefect")
                return


async def run_due_here(
    client: PrefectClient,
    deployment_id: UUID,
    flow: Flow[..., Any],
    *,
    watch_every: float = 5.0,
) -> None:
    """Run the deployment's flow runs that are due, in this process, oldest
    first, one after another (as Prefect's runner would, but without a new
    process each). Stops taking runs once a stop is requested."""
    due = await client.get_scheduled_flow_runs_for_deployments(
        deployment_ids=[deployment_id], scheduled_before=datetime.now(UTC)
    )
    for flow_run in sorted(due, key=_due_first):
        if stopping.requested():
            break
        try:
            state = await propose_state(client, Pending(), flow_run_id=flow_run.id)
        except Abort:  # taken by someone else, or cancelled meanwhile
            continue
        if not state.is_pending():
            continue
        watcher = asyncio.create_task(_watch_cancel(client, flow_run.id, watch_every))
        try:
            running = run_flow(flow, flow_run=flow_run, return_type="state")
            if inspect.isawaitable(running):  # an async flow: the engine's coroutine
                await running
        finally:
            watcher.cancel()


class _Serving:
    """What the signal handlers and the serving loop share."""

    def __init__(self) -> None:
        self.shutdown = threading.Event()
        self.wake: asyncio.Event | None = None  # the loop's: set on shutdown

    def stop(self) -> None:
        """Serve no more (run on the serving loop by the first signal)."""
        self.shutdown.set()
        if self.wake is not None:
            self.wake.set()


async def _serve(
    scheduled: RunnerDeployment,
    manual: list[RunnerDeployment],
    serving: _Serving,
) -> None:
    serving.wake = asyncio.Event()
    poll = float(get_current_settings().runner.poll_frequency)
    runner = Runner(pause_on_shutdown=True) if manual else None
    async with get_client() as client:
        deployment_id = await scheduled.aapply()
        names = [scheduled.name]
        if runner is not None:
            for deployment in manual:
                await runner.aadd_deployment(deployment)
                names.append(deployment.name)
        log.info("serving %s; scheduled passes run in this process", ", ".join(names))
        background = asyncio.create_task(runner.start()) if runner is not None else None
        try:
            while not serving.shutdown.is_set():
                if background is not None and background.done():
                    background.result()  # the runner failed: say why
                    background = None
                await run_due_here(client, deployment_id, ingest_feeds, watch_every=min(poll, 5.0))
                if not serving.shutdown.is_set():
                    stopping.reset()  # a run cancelled in Prefect stopped only itself
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(serving.wake.wait(), poll)
        finally:
            with contextlib.suppress(Exception):
                await client.pause_deployment(deployment_id)
            if runner is not None and runner.started:
                with contextlib.suppress(Exception):
                    await runner.astop()
            if background is not None:
                with contextlib.suppress(BaseException):
                    await background


def serve_scheduled(
    interval_minutes: int = 15,
    all_feeds: bool = False,
    page_budget: float | None = None,
    warehouse: str | None = None,
    sources: str | None = None,
) -> None:
    """Run ``ingest_feeds`` every ``interval_minutes`` in this process, with
    ``backfill`` and ``reprocess`` available for manual runs; blocks until
    interrupted (Ctrl-C or SIGTERM).

    ``all_feeds`` makes every scheduled pass fetch every enabled feed instead
    of only the feeds that are due. Raises :class:`NoSchedulerError` when
    ``PREFECT_API_URL`` is not set. ``warehouse`` and ``sources`` become the
    runs' parameters (the command line's settings); the other settings come
    from the environment of each run.
    """
    if not get_current_settings().api.url:
        raise NoSchedulerError
    given = {"warehouse": warehouse, "sources": sources}
    where = {k: v for k, v in given.items() if v is not None}
    scheduled = scheduled_deployment(interval_minutes, all_feeds, page_budget, where)
    manual = manual_deployments(where)
    serving = _Serving()
    stop = stopping.SignalStop(
        log.warning, "stopping after the pass in progress (again to quit at once)", serving.stop
    )
    try:
        with stop:
            stop.drive(_serve(scheduled, manual, serving), name="ingest-serve")
    finally:
        shutdown_pools()
        stopping.reset()
