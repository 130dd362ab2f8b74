"""The command line: every command calls the library and fails with one clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.conftest import run_once
from typer.testing import CliRunner

from ingest.cli import app
from ingest.demo.server import SiteServer
from ingest.registry import Registry
from ingest.settings import Settings
from ingest.store import connection

runner = CliRunner()


@pytest.fixture
def loaded(site: SiteServer, settings: Settings, registry: Registry) -> Path:
    run_once(settings, registry)
    return settings.warehouse


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_query_formats(loaded: Path, tmp_path: Path) -> None:
    sql = "SELECT source_id, count(*) AS n FROM articles GROUP BY 1 ORDER BY 1"
    code, out, _ = invoke("--warehouse", str(loaded), "query", sql, "--format", "csv")
    assert code == 0
    assert out.splitlines()[0] == "source_id,n"
    assert "harbour-times" in out
    code, out, _ = invoke("--warehouse", str(loaded), "query", sql, "--format", "json")
    rows = json.loads(out)
    assert {r["source_id"] for r in rows} >= {"harbour-times", "valley-courier"}
    code, out, _ = invoke(
        "--warehouse",
        str(loaded),
        "query",
        "SELECT published_at FROM articles LIMIT 1",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)[0]["published_at"].startswith("2026-")
    target = tmp_path / "out.parquet"
    code, _, _ = invoke(
        "--warehouse",
        str(loaded),
        "query",
        "SELECT * FROM articles",
        "--format",
        "parquet",
        "--output",
        str(target),
    )
    assert code == 0
    assert pq.read_table(target).num_rows > 0
    code, out, _ = invoke("--warehouse", str(loaded), "query", "SELECT count(*) AS n FROM clusters")
    assert code == 0 and "n" in out


def test_query_table_stops_at_max_rows_and_jsonl_gives_every_row(loaded: Path) -> None:
    sql = "SELECT range AS n FROM range(1234)"
    code, out, err = invoke("--warehouse", str(loaded), "query", sql, "--max-rows", "5")
    assert code == 0 and "showing 5 of 1,234 rows" in err
    assert "│ 4 " in out and "│ 5 " not in out
    code, out, err = invoke("--warehouse", str(loaded), "query", "SELECT 1 AS one")
    assert code == 0 and "showing" not in err
    code, out, _ = invoke("--warehouse", str(loaded), "query", sql, "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and rows[0] == {"n": 0} and len(rows) == 1234


def test_query_refuses_writes(loaded: Path) -> None:
    code, _, err = invoke("--warehouse", str(loaded), "query", "DELETE FROM articles")
    assert code == 1
    assert "read-only" in err and "DELETE" in err
    code, out, _ = invoke(
        "--warehouse", str(loaded), "query", "SELECT count(*) FROM articles", "--format", "csv"
    )
    assert int(out.splitlines()[1]) > 0


def test_query_without_warehouse(tmp_path: Path) -> None:
    code, _, err = invoke("--warehouse", str(tmp_path / "none.duckdb"), "query", "SELECT 1")
    assert code == 1 and "no warehouse" in err


def test_status(loaded: Path) -> None:
    code, out, _ = invoke("--warehouse", str(loaded), "status", "--all")
    assert code == 0
    assert "harbour" in out and "recent runs" in out and "completed" in out
    assert "0 batches waiting for the loader, 0 set aside" in " ".join(out.split())


def test_status_summary_fits_80_columns_json_and_check(loaded: Path) -> None:
    code, out, _ = invoke("--warehouse", str(loaded), "status", "--check")
    assert code == 0, out
    assert out.splitlines()[0] == "feeds: 4 ok · 0 failing · 0 disabled · 0 never fetched"
    assert "last run:" in out and "completed" in out
    with connection.writer(loaded) as con:
        con.execute(
            "UPDATE feeds SET consecutive_failures = 3, last_outcome = 'error', "
            "last_status = 503, last_error = 'HTTP 503 Service Unavailable: the origin is "
            "overloaded, try again later, or not' WHERE url = (SELECT min(url) FROM feeds)"
        )
    code, out, _ = invoke("--warehouse", str(loaded), "status", "--check")
    assert code == 3
    lines = out.splitlines()
    assert lines[0] == "feeds: 3 ok · 1 failing · 0 disabled · 0 never fetched"
    failing = [line for line in lines if line.startswith("  ")]
    assert len(failing) == 1 and "3× error: HTTP 503" in failing[0]
    assert max(len(line) for line in lines) <= 80
    code, out, _ = invoke("--warehouse", str(loaded), "status", "--json")
    data = json.loads(out)
    assert code == 0 and data["feeds_failing"] == 1 and data["healthy"] is False
    assert data["failing"][0]["http"] == 503 and data["runs"][0]["status"] == "completed"


def test_sources_enable_reenables_by_source_feed_id_or_url_and_nothing_else(loaded: Path) -> None:
    """`ingest sources enable` matches a source id, a feed id or a feed URL,
    makes those feeds due at once, and leaves other disabled feeds alone."""
    with connection.writer(loaded) as con:
        feeds = con.execute(
            "SELECT feed_id, source_id, url FROM feeds WHERE in_registry ORDER BY feed_id"
        ).fetchall()
        assert len({s for _, s, _ in feeds}) >= 2
        con.execute(
            "UPDATE feeds SET disabled = true, disabled_reason = 'test', consecutive_failures = 9"
        )
    first, second = feeds[0], next(f for f in feeds if f[1] != feeds[0][1])
    code, _, err_out = invoke("--warehouse", str(loaded), "sources", "enable", first[1], second[2])
    assert code == 0, err_out
    with connection.connect(loaded, read_only=True) as con:
        rows = con.execute(
            "SELECT feed_id, source_id, url, disabled, consecutive_failures, next_fetch_at "
            "FROM feeds WHERE in_registry"
        ).fetchall()
    enabled = {f for f, _, _, disabled, _, _ in rows if not disabled}
    expected = {f for f, s, u in feeds if s == first[1] or u == second[2]}
    assert enabled == expected
    assert all(n == 0 and due is None for f, _, _, _, n, due in rows if f in enabled)
    assert f"enabled {first[0]} {first[2]}" in " ".join(err_out.split())
    code, _, err_out = invoke("--warehouse", str(loaded), "sources", "enable", "no-such-feed")
    assert code == 1 and "no disabled feed matched" in err_out


def test_sources_list_export_import(tmp_path: Path) -> None:
    code, out, _ = invoke("sources", "list")
    assert code == 0 and "bbc" in out.lower()
    opml = tmp_path / "feeds.opml"
    code, _, _ = invoke("sources", "export", "--output", str(opml))
    assert code == 0 and opml.read_text().startswith("<?xml")
    extra = tmp_path / "extra.opml"
    extra.write_text("""<?xml version="1.0"?><opml version="2.0"><body>
      <outline type="rss" text="Example Daily" xmlUrl="https://www.example-daily.com/rss"
               htmlUrl="https://www.example-daily.com/"/></body></opml>""")
    target = tmp_path / "sources.toml"
    code, _, err = invoke("sources", "import", str(extra), "--output", str(target))
    assert code == 0, err
    code, out, _ = invoke("--sources", str(target), "sources", "export")
    assert code == 0 and 'xmlUrl="https://www.example-daily.com/rss"' in out


def test_bad_registry_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[sources]]\nid = "x"\nname = "X"\nkind = "blog"\nhomepage = "https://x.org"\n'
        'domains = ["x.org"]\nfeeds = ["nope"]\n'
    )
    code, _, err = invoke("--sources", str(bad), "sources", "list")
    assert code == 1
    assert "kind 'blog'" in err and "not a valid http(s) URL" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("INGEST_PER_HOST", "abc", "INGEST_PER_HOST='abc' is not a whole number"),
        ("INGEST_HOST_GAP", "-1", "INGEST_HOST_GAP='-1' is negative"),
        ("INGEST_PAGE_BUDGET", "soon", "INGEST_PAGE_BUDGET='soon' is not a number"),
        ("INGEST_QUERY_TIMEOUT", "1e", "INGEST_QUERY_TIMEOUT='1e' is not a number"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    name: str, value: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    for command in (["status"], ["run"], ["query", "SELECT 1"]):
        code, out, err = invoke(*command)
        assert code == 2, (command, out, err)
        assert err.strip() == f"error: {says}" and "Traceback" not in out + err


def test_an_unknown_source_id_is_a_usage_error(tmp_path: Path) -> None:
    for command in (
        ["run", "--source", "nope"],
        ["backfill", "--since", "2026-01-01", "--until", "2026-01-02", "--source", "nope"],
        ["reprocess", "--source", "nope"],
        ["search", "x", "--source", "nope"],
        ["export", "--since", "2026-01-01", "--until", "2026-01-02", "--source", "nope",
         "--format", "jsonl", "--out", str(tmp_path / "out")],
    ):  # fmt: skip
        code, _, err = invoke("--warehouse", str(tmp_path / "wh.duckdb"), *command)
        assert code == 2 and "unknown source id 'nope'" in err, (command, err)


EXPORT = ["export", "--format", "jsonl", "--out", "/nonexistent/out"]


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["backfill", "--since", "2026-02-30"], "--since '2026-02-30' is not a date"),
        (["backfill", "--since", "2026-02-01", "--until", "2026-01-01"], "is after --until"),
        (["reprocess", "--since", "last week"], "--since 'last week' is not a date"),
        (["search", "x", "--until", "01/02/2026"], "--until '01/02/2026' is not a date"),
        (["search", "x", "--since", "2026-02-01", "--until", "2026-01-01"], "is after --until"),
        ([*EXPORT, "--since", "2026-1-1", "--until", "2026-01-02"], "is not a date"),
        ([*EXPORT, "--since", "2026-02-01", "--until", "2026-01-01"], "is after --until"),
    ],
)
def test_a_bad_date_or_a_reversed_range_is_one_line_and_exit_2(
    command: list[str], says: str, tmp_path: Path
) -> None:
    """Every command with dates refuses a bad one before anything starts
    (no Prefect flow run: the line is all that is printed)."""
    code, out, err = invoke("--warehouse", str(tmp_path / "wh.duckdb"), *command)
    assert code == 2, (command, out, err)
    assert says in err and len(err.strip().splitlines()) == 1 and out == "", (command, err)


def test_a_warehouse_in_a_directory_that_does_not_exist_is_refused_unless_the_command_makes_it(
    tmp_path: Path,
) -> None:
    missing = str(tmp_path / "no-such-dir" / "news.duckdb")
    for command in (
        ["query", "SELECT 1"],
        ["status"],
        ["search", "x"],
        ["report", "--out", str(tmp_path / "r.html")],
        ["reprocess"],
        ["warehouse", "maintain"],
        [*EXPORT, "--since", "2026-01-01", "--until", "2026-01-02"],
    ):
        code, _, err = invoke("--warehouse", missing, *command)
        assert code == 2 and "directory that does not exist" in " ".join(err.split()), command
        name = command[:2] if command[0] == "warehouse" else command[:1]
        code, out, _ = invoke("--warehouse", missing, *name, "--help")
        assert code == 0 and out.startswith("Usage: "), command  # help always works
    lake = f"ducklake:sqlite:{tmp_path / 'nowhere' / 'news.sqlite'}"
    code, _, err = invoke("--warehouse", lake, "query", "SELECT 1")
    assert code == 2 and "directory that does not exist" in " ".join(err.split())
    # the commands that make warehouses go on (here to the next check)
    code, _, err = invoke("--warehouse", missing, "backfill", "--since", "2026-02-30")
    assert code == 2 and "is not a date" in err
    code, _, err = invoke("--warehouse", missing, "run", "--source", "nope")
    assert code == 2 and "unknown source id" in err


def test_help_shows_no_python_types_for_flags_and_lists() -> None:
    for command in (["run"], ["backfill"], ["search"], ["export"], ["status"]):
        code, out, _ = invoke(*command, "--help")
        assert code == 0, command
        assert "<bool>" not in out and "<list[" not in out, (command, out)


def test_a_prefect_server_that_is_not_running_is_one_line(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    done = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "--warehouse", str(tmp_path / "wh.duckdb"), "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 1
    assert len(said) == 1 and said[0].startswith("run failed: Failed to reach API"), said
