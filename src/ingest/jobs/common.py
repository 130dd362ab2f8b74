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


# Counts after which the search index has something new to take in.
CHANGES_ARTICLES = ("articles_new", "articles_revised", "articles_joined_story")


async def index_search(settings: Settings, counts: Mapping[str, int]) -> dict[str, int]:
    """Bring the search index up to date after a run's loads (when it loaded
    articles, or when there is no index yet). A failure is logged and counted,
    never the run's: the index catches up at the next run."""
    from ingest import search  # noqa: PLC0415 - the fts extension only where needed

    path = settings.search_path
    if path.exists() and not any(counts.get(k, 0) for k in CHANGES_ARTICLES):
        return {}
    try:
        done = await asyncio.to_thread(search.update_index, settings.warehouse, path)
    except Exception as exc:  # the run's rows are in; the index is a copy of them
        logging.getLogger("ingest.search").warning("search index not updated: %r", exc)
        return {"search_index_failed": 1}
    return {"search_indexed": done.indexed}
