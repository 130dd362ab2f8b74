"""Scheduled ingestion in one process, without workers or work pools.

``ingest serve`` calls :func:`serve_scheduled`: it registers the deployments
with the Prefect server at ``PREFECT_API_URL`` and then runs, in this process,
the scheduled passes of ``ingest_feeds`` and any run someone starts of
``backfill`` or ``reprocess`` (``prefect deployment run backfill/backfill
--param since=2024-01-01``). Each flow run is a subprocess with this process's
environment, so the INGEST_* settings of the shell apply. The first pass comes
one interval after the start (``ingest run`` does one now). Stop it with
Ctrl-C: the schedule is paused on the way out.

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

import importlib
from collections.abc import Coroutine, Mapping
from datetime import timedelta
from typing import Any

from prefect import Flow, serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Interval
from prefect.settings import get_current_settings
from prefect.types.entrypoint import EntrypointType

from flows.ingest_feeds import ingest_feeds

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


def serve_scheduled(
    interval_minutes: int = 15,
    all_feeds: bool = False,
    page_budget: float | None = None,
    warehouse: str | None = None,
    sources: str | None = None,
) -> None:
    """Run ``ingest_feeds`` every ``interval_minutes`` in this process, with
    ``backfill`` and ``reprocess`` available for manual runs; blocks until
    interrupted.

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
    serve(
        scheduled_deployment(interval_minutes, all_feeds, page_budget, where),
        *manual_deployments(where),
    )
