"""Writers of a DuckLake: loads one at a time per lake (so two loaders of the
same articles store each once), snapshots named by the run that made them and
read back with ``--at``, a DuckDB file copied into a lake and verified, and a
lake's upkeep."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.conftest import run_once
from tests.test_clusters import candidate, load_items
from tests.test_clusters import registry as eval_registry
from tests.test_lake import ARTICLES, STORIES, new_lake
from typer.testing import CliRunner

from ingest.attribute import WireMatcher
from ingest.cli import app
from ingest.location import Lake, parse_warehouse
from ingest.records import LoadBatch
from ingest.registry import Registry
from ingest.settings import Settings
from ingest.store import connection, load, read, upkeep
from ingest.store import feeds as store_feeds


def same_articles_twice(
    lake: Lake,
    monkeypatch: pytest.MonkeyPatch,
    open_writer: Callable[[Lake, Callable[[duckdb.DuckDBPyConnection], Any]], Any],
) -> tuple[list[bool], int, int]:
    """Two loaders in two threads load the same 20 articles as two staged
    batches; each waits at a barrier (3 s at most) between its check of what
    the lake holds and its commit. Returns whether each met the other there,
    the articles stored and the distinct URLs among them."""
    reg = eval_registry()
    matcher = WireMatcher(reg)
    with connection.writer(lake) as con:
        store_feeds.sync_registry(con, reg, datetime.now(UTC))
    batch = LoadBatch(
        "run-0", candidates=tuple(candidate(it, reg, matcher) for it in load_items()[:20])
    )
    barrier = threading.Barrier(2, timeout=3)
    met: list[bool] = []
    checked = load._lookup

    def lookup(con: duckdb.DuckDBPyConnection, b: LoadBatch) -> Any:
        known = checked(con, b)
        try:
            barrier.wait()
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)
        return known

    monkeypatch.setattr(load, "_lookup", lookup)

    def loader(i: int) -> Any:
        return open_writer(
            lake,
            lambda con: load.write_staged(con, [(f"batch-{i}", replace(batch, run_id=f"run-{i}"))]),
        )

    with ThreadPoolExecutor(2) as pool:
        for _ in pool.map(loader, [0, 1]):
            pass
    rows = read.query(lake, "SELECT count(*), count(DISTINCT url) FROM articles").rows[0]
    return met, rows[0], rows[1]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_loaders_of_the_same_articles_store_each_once(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lake has no unique keys: the loads take the lake's writer lock, so
    the second loader's check comes after the first one's commit (the barrier
    between check and commit is never met) and finds the articles there."""
    lake = new_lake(kind, request, tmp_path)
    met, stored, distinct = same_articles_twice(lake, monkeypatch, connection.retrying)
    assert met == [False, False]
    assert stored == distinct == 20


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_without_the_writer_lock_the_lake_would_store_copies(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the lock is there: two loaders that each check, meet, then commit
    without it cannot both succeed with each article stored once: DuckLake
    either stores both copies (insert-only commits are merged) or refuses
    one commit as a conflict, which the loader would have to run again."""
    lake = new_lake(kind, request, tmp_path)
    conflicts: list[str] = []

    def unlocked(where: Lake, work: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        con = connection.connect_lake(where)
        try:
            return work(con)
        except duckdb.TransactionException as exc:
            conflicts.append(str(exc))
            return None
        finally:
            con.close()

    met, stored, distinct = same_articles_twice(lake, monkeypatch, unlocked)
    assert met == [True, True]
    print(f"{kind}: stored {stored} of 20 distinct {distinct}; conflicts: {conflicts}")
    assert (stored, len(conflicts)) in {(40, 0), (20, 1)}


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_snapshots_name_their_run_and_query_at_reads_the_lake_as_it_was(
    settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    uri = f"ducklake:sqlite:{tmp_path}/news.sqlite"
    lake = parse_warehouse(uri)
    assert isinstance(lake, Lake)
    run_once(replace(settings, warehouse=lake), registry)
    (run_id,) = read.query(lake, "SELECT run_id FROM runs").rows[0]
    listed = cli("--warehouse", uri, "snapshots", "--limit", "500", "--format", "csv")
    assert listed.exit_code == 0, listed.stderr
    assert f"load: {run_id}" in listed.stdout
    mine = read.snapshots(lake, run_id=run_id, limit=500).rows
    assert {r[2] for r in mine} == {run_id}
    whats = [r[3] for r in mine]
    assert whats[0].startswith(f"end: {run_id}") and whats[-1].startswith(f"start: {run_id}")
    started = mine[-1][0]
    count = "SELECT count(*) FROM articles"
    then = cli("--warehouse", uri, "query", count, "--at", str(started), "--format", "csv")
    now = cli("--warehouse", uri, "query", count, "--format", "csv")
    assert then.exit_code == now.exit_code == 0, then.stderr + now.stderr
    assert then.stdout.split()[1] == "0" and int(now.stdout.split()[1]) > 0
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S+00")
    at_time = cli("--warehouse", uri, "query", count, "--at", later, "--format", "csv")
    assert at_time.stdout == now.stdout, at_time.stderr
    wrong = cli("--warehouse", uri, "query", count, "--at", "yesterday")
    assert wrong.exit_code == 1 and "neither a snapshot id nor a time" in wrong.stderr
    file = str(tmp_path / "news.duckdb")
    with connection.writer(Path(file)):
        pass
    for args in (["snapshots"], ["query", count, "--at", "1"]):
        refused = cli("--warehouse", file, *args)
        assert refused.exit_code == 2 and "keeps no snapshots" in refused.stderr, args


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_warehouse_copy_moves_a_file_into_a_lake_and_verifies_it(
    kind: str,
    settings: Settings,
    registry: Registry,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    run_once(settings, registry)
    lake = new_lake(kind, request, tmp_path / "lake")
    file = str(settings.warehouse)
    done = cli(
        "--warehouse", file, "warehouse", "copy", "--to", lake.uri, "--data-path", lake.data_path
    )
    assert done.exit_code == 0, done.stderr
    assert "all verified" in done.stderr and "DIFFERS" not in done.stdout
    for sql in (
        ARTICLES,
        STORIES,
        "SELECT count(*) FROM sightings",
        "SELECT * FROM feeds ORDER BY feed_id",
    ):
        assert read.query(lake, sql).rows == read.query(settings.warehouse, sql).rows, sql
    again = cli(
        "--warehouse", file, "warehouse", "copy", "--to", lake.uri, "--data-path", lake.data_path
    )
    assert again.exit_code == 1 and "already holds rows" in again.stderr
    # the lake goes on where the file stopped: nothing is loaded twice
    counts = run_once(replace(settings, warehouse=lake), registry)
    assert counts["articles_new"] == 0 and counts["batches_failed"] == 0
    assert read.query(lake, ARTICLES).rows == read.query(settings.warehouse, ARTICLES).rows


def test_copy_checks_find_a_difference(tmp_path: Path) -> None:
    """The copy's verification compares content, not only counts."""
    check = upkeep.TableCheck("articles", 3, source_hash=1, target_hash=2, target_rows=3)
    assert not check.ok
    assert upkeep.TableCheck("articles", 3, 5, 5, 3).ok


def test_maintenance_compacts_a_lake_and_expires_old_snapshots(
    settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    lake = parse_warehouse(f"ducklake:sqlite:{tmp_path}/news.sqlite")
    on_lake = replace(settings, warehouse=lake)
    for _ in range(3):
        run_once(on_lake, registry)
    before = {sql: read.query(lake, sql).rows for sql in (ARTICLES, STORIES)}
    snapshots = len(read.snapshots(lake, limit=100_000).rows)
    kept = upkeep.maintain(lake, keep_days=30)
    assert kept.snapshots_expired == 0
    done = upkeep.maintain(lake, keep_days=1, now=datetime.now(UTC) + timedelta(days=2))
    assert done.snapshots_expired >= snapshots - 1
    assert len(read.snapshots(lake, limit=100_000).rows) <= 2
    assert {sql: read.query(lake, sql).rows for sql in before} == before
    assert run_once(on_lake, registry)["batches_failed"] == 0
    with connection.writer(settings.warehouse):
        pass
    assert upkeep.maintain(settings.warehouse, keep_days=1) == upkeep.Upkeep()


def test_the_compose_lake_variant_points_every_worker_at_one_lake() -> None:
    """deploy/compose.lake.yaml layered over deploy/compose.yaml (compose
    merges a service's environment key by key): every worker gets the lake
    on the PostgreSQL catalog service and the shared data volume, and no
    file warehouse or file-side staging is left over."""
    import yaml

    root = Path(__file__).resolve().parents[1] / "deploy"
    base = yaml.safe_load((root / "compose.yaml").read_text())["services"]
    lake = yaml.safe_load((root / "compose.lake.yaml").read_text())["services"]
    workers = sorted(n for n in {*base, *lake} if n.startswith("worker"))
    assert len(workers) >= 3 and "catalog" in lake
    for name in workers:
        env = {**base.get(name, {}).get("environment", {}), **lake[name]["environment"]}
        where = parse_warehouse(env["INGEST_WAREHOUSE"], env["INGEST_DATA_PATH"])
        assert isinstance(where, Lake) and where.catalog == "postgres", name
        assert "host=catalog" in where.target and where.data_path.startswith("/data/"), name
        assert not env["INGEST_STAGING_DIR"] and not env["INGEST_RAW_DIR"], name
        settings = Settings.from_env(env)
        assert str(settings.staging_path).startswith("/data/"), name
        volumes = lake[name].get("volumes") or base[name]["volumes"]
        assert "data:/data" in volumes, name
        depends = {**base.get(name, {}).get("depends_on", {}), **lake[name]["depends_on"]}
        assert {"catalog", "server", "deploy"} <= set(depends), name


def test_an_s3_data_path_takes_the_environments_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lake's data files on S3-compatible storage: httpfs is loaded from its
    wheel and the usual AWS variables become a DuckDB secret (here pointing at
    a closed loopback port: the write fails there, clearly, and nothing else
    is contacted)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    lake = parse_warehouse(f"ducklake:sqlite:{tmp_path}/news.sqlite", "s3://news/lake/")
    assert isinstance(lake, Lake)
    con = connection.connect_lake(lake)
    try:
        secrets = con.execute(
            "SELECT type, scope, secret_string FROM duckdb_secrets() WHERE name = 'ingest_lake_s3'"
        ).fetchall()
        assert len(secrets) == 1 and secrets[0][0] == "s3"
        assert "endpoint=127.0.0.1:9" in secrets[0][2] and "region=eu-west-1" in secrets[0][2]
        assert "url_style=path" in secrets[0][2] and "use_ssl=false" in secrets[0][2]
        con.execute("CREATE TABLE t (a INTEGER)")
        con.execute("CALL set_option('data_inlining_row_limit', 0)")
        with pytest.raises(duckdb.Error, match=r"127\.0\.0\.1:9|Connection|connect"):
            con.execute("INSERT INTO t SELECT range FROM range(100)")
    finally:
        con.close()
    assert connection.s3_secret({}) is None


HOLDER = """
import sys, time
from ingest.location import parse_warehouse
from ingest.store import connection
lake = parse_warehouse(sys.argv[1], sys.argv[2])
with connection.writer(lake) as con:
    con.execute("BEGIN")
    con.execute(
        "INSERT INTO rejects (run_id, stage, reason, rejected_at) "
        "VALUES ('killed', 'load', 'half-written', now())"
    )
    print("holding", flush=True)
    time.sleep(120)
    con.execute("COMMIT")
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_writer_killed_inside_its_transaction_leaves_nothing_and_frees_the_lake(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """SIGKILL while a process holds the writer lock, in the middle of its
    write: the next writer gets the lake within seconds and finds none of the
    killed one's rows."""
    import signal
    import subprocess
    import sys
    import time

    lake = new_lake(kind, request, tmp_path)
    with connection.writer(lake):
        pass
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, lake.uri, lake.data_path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"holding", (
            proc.stderr.read() if proc.stderr else ""
        )
        with pytest.raises(connection.WarehouseBusy), connection.writer(lake, wait=1.0):
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        began = time.monotonic()
        with connection.writer(lake, wait=30.0) as con:
            left = con.execute("SELECT count(*) FROM rejects").fetchone()
        assert time.monotonic() - began < 10
        assert left == (0,)
    finally:
        proc.kill()
        proc.wait(timeout=30)


def _hold(lake: Lake, holding: threading.Event, release: threading.Event) -> None:
    with connection.writer(lake):
        holding.set()
        release.wait(30)


def test_every_spelling_of_a_postgres_lake_meets_on_one_lock(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The lock is the catalog database's, whatever the data path's
    spelling; and letting go of a kept instance (as an error path does)
    never ends the lock another thread holds through it."""
    lake = new_lake("postgres", request, tmp_path)
    other_spelling = replace(lake, data_path=lake.data_path.rstrip("/"))
    holding, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(lake, holding, release))
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(connection.WarehouseBusy), connection.writer(other_spelling, wait=1):
            pass
        connection._forget(("lock", lake.target))
        with pytest.raises(connection.WarehouseBusy), connection.writer(lake, wait=1):
            pass
    finally:
        release.set()
        holder.join(30)
    with connection.writer(other_spelling, wait=5):
        pass


def test_a_write_whose_lock_session_ended_is_not_committed(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The PostgreSQL lock lives on a session of its own; if that session
    ends during a write (killed by an administrator, a timeout), another
    writer may already be in: the write is refused at its commit."""
    from ingest.store import extensions

    lake = new_lake("postgres", request, tmp_path)
    admin = connection._open(":memory:", False)
    extensions.load(admin, "postgres_scanner")
    admin.execute(f"ATTACH '{lake.target}' AS pg (TYPE postgres)")
    kill = (
        "SELECT * FROM postgres_query('pg', 'SELECT pg_terminate_backend(pid)::text FROM "
        "pg_locks WHERE locktype = ''advisory''')"
    )

    def write_while_the_lock_session_is_killed() -> None:
        with connection.writer(lake) as con, connection.transaction(con, "test: a write"):
            con.execute(
                "INSERT INTO rejects (run_id, stage, reason, rejected_at) "
                "VALUES ('lost', 'load', 'lock lost', now())"
            )
            assert admin.execute(kill).fetchall() == [("true",)]

    with pytest.raises(connection.WarehouseError, match="lost the writer lock"):
        write_while_the_lock_session_is_killed()
    admin.close()
    assert read.query(lake, "SELECT count(*) FROM rejects").rows == [(0,)]
    with connection.writer(lake, wait=5):
        pass  # the lock is to be had again
