"""The warehouse's upkeep as a flow (``ingest warehouse maintain`` on a
schedule): on a DuckLake, small data files merged, snapshots older than
``keep_days`` expired and the files no kept snapshot needs deleted; on a
DuckDB file, a checkpoint."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.common import flow_setup, writer_slot
from ingest.location import Lake, location_text
from ingest.settings import Settings
from ingest.store import upkeep


@task(
    name="maintain",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[60, 300],
    timeout_seconds=3 * 3600,
)
async def maintain_task(where: Path | Lake, keep_days: float) -> dict[str, int]:
    async with writer_slot():
        done = await asyncio.to_thread(upkeep.maintain, where, keep_days)
    return dict(done.__dict__)


@flow(name="maintain_warehouse", timeout_seconds=4 * 3600)
async def maintain_warehouse(
    keep_days: float | None = None,
    warehouse: str | None = None,
    settings: Settings | None = None,
) -> dict[str, int]:
    """Compact the warehouse and expire a lake's snapshots older than
    ``keep_days`` (default: INGEST_SNAPSHOT_KEEP_DAYS, 30; 0 keeps all)."""
    settings, _registry, _run_id = flow_setup(settings, warehouse, None)
    keep = settings.snapshot_keep_days if keep_days is None else keep_days
    where = settings.warehouse
    done = await maintain_task(where, keep)
    get_run_logger().info("maintained %s: %s", location_text(where), done)
    return done
