"""What every job shares: the run's heartbeat, its outcome, a logger."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ingest import alerts, pipeline
from ingest.settings import Settings
from ingest.store.connection import transaction, writer
from ingest.store.runs import HEARTBEAT_EVERY

Log = logging.Logger | logging.LoggerAdapter[logging.Logger]


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: ``completed``, ``failed`` or ``stopped`` (on request),
    with its reason and counts."""

    run_id: str
    status: str
    counts: Mapping[str, int] = field(default_factory=dict)
    reason: str | None = None


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


# Counts after which the search index has something new to take in.
CHANGES_ARTICLES = ("articles_new", "articles_revised", "articles_joined_story")


def check_alerts(settings: Settings, now: datetime | None = None) -> list[alerts.Change]:
    """Evaluate the completeness alerts (one write transaction): open what
    holds, close what cleared."""
    now = now or datetime.now(UTC)
    with writer(settings.warehouse) as con, transaction(con, "alerts"):
        return alerts.evaluate(con, now)


async def after_loads(
    settings: Settings,
    counts: Mapping[str, int],
    on_alert: Callable[[alerts.Change], None] | None = None,
) -> dict[str, int]:
    """Bring what is derived from the warehouse up to date after a run's
    loads: the completeness alerts (every run: silence shows when nothing
    comes), and, when it loaded articles or they do not exist yet, the search
    index and the latest report. A failure is logged and counted, never the
    run's: the next run catches up. ``on_alert``: told of each alert opened or
    closed (the flow emits a Prefect event)."""
    from ingest import report, search  # noqa: PLC0415 - the fts extension only where needed

    log = logging.getLogger("ingest.derived")
    changed = any(counts.get(k, 0) for k in CHANGES_ARTICLES)
    out: dict[str, int] = {}
    try:
        moved = await asyncio.to_thread(check_alerts, settings)
        out["alerts_opened"] = sum(c.action == "opened" for c in moved)
        out["alerts_closed"] = sum(c.action == "closed" for c in moved)
        for change in moved:
            log.warning(
                "alert %s: %s %s %s", change.action, change.kind, change.subject, change.evidence
            )
            if on_alert is not None:
                on_alert(change)
    except Exception as exc:
        log.warning("alerts not evaluated: %r", exc)
        out["alerts_failed"] = 1
    if changed or not settings.search_path.exists():
        try:
            done = await asyncio.to_thread(
                search.update_index, settings.warehouse, settings.search_path
            )
            out["search_indexed"] = done.indexed
        except Exception as exc:  # the run's rows are in; the index is a copy of them
            log.warning("search index not updated: %r", exc)
            out["search_index_failed"] = 1
    if changed or not settings.report_path.exists():
        try:
            await asyncio.to_thread(report.write_report, settings.warehouse, settings.report_path)
        except Exception as exc:
            log.warning("report not written: %r", exc)
            out["report_failed"] = 1
    return out
