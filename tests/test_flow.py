"""Real Prefect flow runs (prefect_test_harness: a temporary local server)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from flows.ingest_feeds import ingest_feeds
from prefect.client.orchestration import get_client
from prefect.testing.utilities import prefect_test_harness

from ingest.demo.runner import demo_environment
from ingest.demo.server import SiteServer
from ingest.location import parse_warehouse
from ingest.store import read


@pytest.fixture(scope="module", autouse=True)
def harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def demo_env(site: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in demo_environment(site.site.hosts).items():
        monkeypatch.setenv(key, value)
    sources = tmp_path / "sources.toml"
    sources.write_text(site.site.sources_toml(), encoding="utf-8")
    return sources


@pytest.mark.parametrize("kind", ["file", "lake"])
def test_flow_run_loads_and_publishes_counts(
    site: SiteServer, demo_env: Path, tmp_path: Path, kind: str
) -> None:
    """Real Prefect flow runs into a DuckDB file and into a DuckLake."""
    wh = (
        str(tmp_path / "flow.duckdb")
        if kind == "file"
        else f"ducklake:sqlite:{tmp_path / 'flow.sqlite'}"
    )
    counts = asyncio.run(ingest_feeds(all_feeds=True, warehouse=wh, sources=str(demo_env)))
    assert counts["articles_new"] == site.site.expected_articles()
    assert counts["feed_ok"] == 4
    # the search index took the run's articles in, as a task of the run
    assert counts["search_indexed"] == counts["articles_new"]
    again = asyncio.run(ingest_feeds(warehouse=wh, sources=str(demo_env), all_feeds=True))
    assert again["feed_not_modified"] == 4 and again["articles_new"] == 0
    # only due feeds without --all-feeds: none is due right after a poll
    idle = asyncio.run(ingest_feeds(warehouse=wh, sources=str(demo_env)))
    assert idle["feeds_due"] == 0

    where = parse_warehouse(wh)
    runs = read.query(where, "SELECT run_id, status FROM runs ORDER BY started_at").rows
    # every page chunk and feed batch went through a staged file, consumed once
    ((staged, loaded_elsewhere),) = read.query(
        where, "SELECT count(*), count(*) FILTER (WHERE loaded_by <> run_id) FROM staged_batches"
    ).rows
    assert [s for _, s in runs] == ["completed"] * 3
    # run 1: a chunk of 18 pages and its feed batch; run 2: the feed batch (all 304)
    assert staged == 3 and loaded_elsewhere == 0
    assert list((tmp_path / "flow-staging").iterdir()) == []

    async def artifact_and_tasks() -> tuple[list[object], int]:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        async with get_client() as client:
            arts = await client.read_artifacts(limit=10)
            import uuid

            tasks = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(runs[0][0])]))
            )
            keys = {a.key for a in arts}
            assert "ingest-run-summary" in keys  # the key figures and the latest report
            return [a for a in arts if a.key == "ingest-run-counts"], len(tasks)

    arts, n_tasks = asyncio.run(artifact_and_tasks())
    assert arts, "the run publishes a table artifact with its counts"
    # batched: a handful of task runs for 4 feeds and 18 pages, not one per article
    # prepare, fetch-feeds, fetch-extract, load, finish-run, after-loads
    assert 0 < n_tasks <= 6
    # the flow's Prefect run id is the warehouse run id
    assert all(len(r[0]) == 36 for r in runs)
    assert os.environ["INGEST_ALLOW_PRIVATE_HOSTS"] == "127.0.0.1"


def test_cli_run_exits_zero_with_failed_feeds(
    site: SiteServer, demo_env: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from ingest.cli import app

    text = (
        demo_env.read_text()
        + f"""
[[sources]]
id = "down"
name = "Down"
kind = "publisher"
homepage = "{site.base_url}/down/"
domains = ["down.test"]
feeds = ["{site.base_url}/down/feed.xml"]
"""
    )
    demo_env.write_text(text)
    wh = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(app, ["--warehouse", wh, "--sources", str(demo_env), "run"])
    assert result.exit_code == 0, result.output
    assert "articles_new" in result.stdout
    con = duckdb.connect(wh, read_only=True)
    assert con.execute(
        "SELECT outcome, status FROM fetch_log WHERE url LIKE '%/down/%'"
    ).fetchall() == [("error", 404)]
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (
        site.site.expected_articles(),
    )
    con.close()
