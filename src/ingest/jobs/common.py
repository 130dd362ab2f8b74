"""What every job shares: the run's heartbeat, its outcome, a logger."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ingest import pipeline
from ingest.settings import Settings
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
