"""Stopping `ingest run` as users do: Ctrl+C, SIGTERM, a second Ctrl+C,
kill -9, and running it with no network. Real processes, the loopback site,
a real DuckDB file and the command's own temporary Prefect server."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from tests.clitools import cli_env, descendants, slow_pages, start, wait_for, wait_gone

from ingest.demo.server import SiteServer

pytestmark = pytest.mark.slow


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def world(site: SiteServer, tmp_path: Path) -> tuple[dict[str, str], Path]:
    sources = tmp_path / "sources.toml"
    sources.write_text(site.site.sources_toml(), encoding="utf-8")
    wh = tmp_path / "wh.duckdb"
    env = cli_env(
        site,
        tmp_path / "prefect-home",
        INGEST_WAREHOUSE=str(wh),
        INGEST_SOURCES=str(sources),
        INGEST_PER_HOST="1",
    )
    return env, wh


def fetching(site: SiteServer, paths: set[str]) -> bool:
    return any(r.path in paths for r in site.requests)


def finish(proc: subprocess.Popen[bytes], timeout: float = 60) -> tuple[str, str]:
    out, err = proc.communicate(timeout=timeout)
    return out.decode(), err.decode()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_within_10s_and_nothing_is_lost(
    site: SiteServer, world: tuple[dict[str, str], Path], sig: signal.Signals, code: int
) -> None:
    env, wh = world
    paths = slow_pages(site, 0.6)
    proc = start(["run"], env)
    assert wait_for(lambda: fetching(site, paths), 90), finish(proc)
    kids = descendants(proc.pid)
    sent = time.monotonic()
    if sig is signal.SIGINT:
        os.killpg(proc.pid, sig)  # as a terminal's Ctrl+C: to the whole foreground group
    else:
        os.kill(proc.pid, sig)
    _, err = finish(proc, 60)
    took = time.monotonic() - sent
    assert proc.returncode == code, err[-3000:]
    assert took < 10, took
    stops = [line for line in err.splitlines() if ": stopping;" in line]
    assert len(stops) == 1, err[-3000:]
    assert "run stopped: stopped by" in err
    assert wait_gone(kids, 5) == set()
    ((status, reason),) = rows(wh, "SELECT status, reason FROM runs")
    assert status == "stopped" and signal.Signals(sig).name in str(reason)
    # what was not fetched waits (no article for it), and no failure was recorded for it
    queued = rows(wh, "SELECT count(*) FROM pending_pages WHERE kind = 'queued'")[0][0]
    assert queued > 0
    assert rows(wh, "SELECT count(*) FROM fetch_log WHERE outcome = 'error'") == [(0,)]
    # the next run takes it from there: the warehouse ends complete
    site.requests.clear()
    proc = start(["run"], env)
    _, err = finish(proc, 180)
    assert proc.returncode == 0, err[-3000:]
    assert rows(wh, "SELECT count(*) FROM articles WHERE body_status = 'page'") == [
        (site.site.expected_articles(),)
    ]
    assert rows(wh, "SELECT count(*) FROM pending_pages") == [(0,)]


def test_a_second_ctrl_c_quits_at_once_and_leaves_no_process(
    site: SiteServer, world: tuple[dict[str, str], Path]
) -> None:
    env, _ = world
    paths = slow_pages(site, 5.0)
    proc = start(["run"], env)
    assert wait_for(lambda: fetching(site, paths), 90), finish(proc)
    kids = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.3)
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = finish(proc, 30)
    assert time.monotonic() - sent < 3
    assert proc.returncode == 130, err[-2000:]
    assert "quitting at once" in err
    assert wait_gone(kids, 5) == set()


def test_kill_9_leaves_no_process_behind(
    site: SiteServer, world: tuple[dict[str, str], Path]
) -> None:
    env, _ = world
    paths = slow_pages(site, 2.0)
    proc = start(["run"], env)
    assert wait_for(lambda: fetching(site, paths), 90), finish(proc)
    kids = descendants(proc.pid)
    assert kids  # the temporary Prefect server and the extraction workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert wait_gone(kids, 5) == set()


def test_offline_run_says_so_and_moves_no_schedule(
    site: SiteServer, world: tuple[dict[str, str], Path]
) -> None:
    env, wh = world
    hosts = len(site.site.hosts)
    site.stop()  # nothing listens: every host refuses the connection
    try:
        proc = start(["run"], env)
        _, err = finish(proc, 180)
    finally:
        site.start()
    assert proc.returncode == 1, err[-3000:]
    assert f"no network: {hosts} of {hosts} hosts unreachable" in err
    ((status, reason),) = rows(wh, "SELECT status, reason FROM runs")
    assert status == "failed" and str(reason).startswith("no network")
    assert rows(
        wh,
        "SELECT count(*) FROM feeds WHERE next_fetch_at IS NOT NULL OR consecutive_failures > 0",
    ) == [(0,)]
    assert rows(wh, "SELECT count(*) FROM robots") == [(0,)]  # no "disallow all" remembered
    # back online, the next run does everything at once
    proc = start(["run"], env)
    _, err = finish(proc, 180)
    assert proc.returncode == 0, err[-3000:]
    assert rows(wh, "SELECT count(*) FROM articles") == [(site.site.expected_articles(),)]
