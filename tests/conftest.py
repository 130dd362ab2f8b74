"""Shared fixtures: the loopback news site, settings that reach it, a registry.

Everything runs against real things: a threaded HTTP server on 127.0.0.1,
DuckDB files under tmp_path, and (in the flow tests) real Prefect runs.
"""

from __future__ import annotations

import asyncio
import os
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from flows.tempserver import free_port, launch, stop
from tests.pgcluster import Cluster

from ingest import pipeline
from ingest.demo.server import SiteServer
from ingest.jobs import poll
from ingest.location import parse_warehouse
from ingest.registry import Registry, parse_registry
from ingest.settings import Settings

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer() as server:
        yield server


@pytest.fixture
def registry(site: SiteServer) -> Registry:
    return parse_registry(tomllib.loads(site.site.sources_toml()), "demo")


@pytest.fixture(params=["file"])
def backend(request: pytest.FixtureRequest) -> str:
    """The warehouse backend of ``settings``: a DuckDB file, unless a module
    or test parametrises it (``indirect=True``) with ``"lake"`` too (a
    DuckLake on a SQLite catalog)."""
    return str(request.param)


@pytest.fixture
def settings(site: SiteServer, tmp_path: Path, backend: str) -> Settings:
    return replace(
        Settings(),
        warehouse=(
            tmp_path / "wh.duckdb"
            if backend == "file"
            else parse_warehouse(f"ducklake:sqlite:{tmp_path}/wh.sqlite")
        ),
        allow_private_hosts=("127.0.0.1",),
        resolve=dict.fromkeys(site.site.hosts, "127.0.0.1"),
        extract_workers=1,
        host_gap_seconds=0.0,
        total_timeout=10.0,
        read_timeout=5.0,
        connect_timeout=2.0,
    )


def run_once(
    settings: Settings,
    registry: Registry,
    *,
    all_feeds: bool = True,
    accept_registry_change: bool = False,
) -> Counter[str]:
    """One whole poll (``ingest.jobs.poll``) with the library's plain steps,
    no Prefect: the links held back by earlier runs first, then every due
    feed, within the page budget."""
    outcome = asyncio.run(
        poll.run(
            settings,
            registry,
            pipeline.new_run_id(),
            all_feeds=all_feeds,
            accept_registry_change=accept_registry_change,
        )
    )
    return Counter(outcome.counts)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole session (a database per test)."""
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Prefect server for every command of the trials (each would
    otherwise start its own, a few seconds each); killing a command then
    kills the command alone."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    proc = launch(port, {"PREFECT_HOME": str(home)})
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the Prefect server did not start"
        time.sleep(0.2)
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture(autouse=True)
def _close_lakes() -> Iterator[None]:
    """Each test's lakes are let go after it (a process keeps the lakes it
    writes to attached)."""
    yield
    from ingest.store import connection

    connection.close_lakes()
