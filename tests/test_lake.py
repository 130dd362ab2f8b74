"""The warehouse as a DuckLake: where it is, its schema without keys, and
both catalogs (SQLite, and a real PostgreSQL started for the test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from tests.conftest import run_once
from tests.pgcluster import Cluster
from typer.testing import CliRunner

from ingest.cli import app
from ingest.location import Lake, LocationError, parse_warehouse
from ingest.registry import Registry
from ingest.settings import Settings
from ingest.store import connection, read
from ingest.store.schema import KEYS, insert


def test_a_warehouse_setting_names_a_file_or_a_lake(tmp_path: Path) -> None:
    assert parse_warehouse("warehouse/news.duckdb") == Path("warehouse/news.duckdb")
    lake = parse_warehouse(f"ducklake:sqlite:{tmp_path}/news.sqlite")
    assert lake == Lake("sqlite", f"{tmp_path}/news.sqlite", f"{tmp_path}/news.files/")
    shared = parse_warehouse("ducklake:sqlite:/srv/news.sqlite", "/mnt/lake/")
    assert isinstance(shared, Lake) and shared.data_path == "/mnt/lake/"
    pg = parse_warehouse("ducklake:postgres:dbname=news host=db password=s3cret", "s3://b/news/")
    assert pg == Lake("postgres", "dbname=news host=db password=s3cret", "s3://b/news/")
    assert isinstance(pg, Lake) and "s3cret" not in pg.describe()
    assert isinstance(shared, Lake) and isinstance(pg, Lake)
    assert "META_JOURNAL_MODE 'WAL'" in connection.attach_options(shared)
    assert "READ_ONLY" in connection.attach_options(pg, read_only=True)


@pytest.mark.parametrize(
    ("setting", "data_path", "says"),
    [
        ("ducklake:mysql:x", None, "unknown DuckLake catalog"),
        ("ducklake:sqlite:", None, "needs a file path"),
        ("ducklake:postgres:", "/d", "needs a connection string"),
        ("ducklake:postgres:dbname=news", None, "INGEST_DATA_PATH"),
        ("warehouse/news.duckdb", "/d", "is a DuckDB file"),
    ],
)
def test_a_setting_that_names_no_warehouse_says_what_is_missing(
    setting: str, data_path: str | None, says: str
) -> None:
    with pytest.raises(LocationError, match=says):
        parse_warehouse(setting, data_path)


def test_every_migration_has_a_lake_form_without_keys() -> None:
    for file in sorted(connection.migrations_dir().glob("[0-9]*.sql")):
        text = connection.lake_ddl(file.read_text(encoding="utf-8"))
        code = "\n".join(line.split("--")[0] for line in text.splitlines())
        assert "PRIMARY KEY" not in code.upper(), file.name
    rewritten = connection.lake_ddl(
        "CREATE TABLE t (\n    a VARCHAR PRIMARY KEY,\n    b INTEGER,  -- note\n"
        "    PRIMARY KEY (a, b)\n);\nALTER TABLE t ADD COLUMN c BOOLEAN DEFAULT true;"
    )
    assert rewritten == (
        "CREATE TABLE t (\n    a VARCHAR NOT NULL,\n    b INTEGER  -- note\n);\n"
        "ALTER TABLE t ADD COLUMN c BOOLEAN DEFAULT 'true';"
    )
    with pytest.raises(connection.WarehouseError, match="UNIQUE"):
        connection.lake_ddl("CREATE TABLE u (a VARCHAR UNIQUE)")


def new_lake(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    """A new, empty lake on a SQLite or a PostgreSQL catalog."""
    if kind == "sqlite":
        found = parse_warehouse(f"ducklake:sqlite:{tmp_path}/news.sqlite")
        assert isinstance(found, Lake)
        return found
    cluster: Cluster = request.getfixturevalue("postgres")
    conninfo = cluster.create_database(f"lake_{uuid.uuid4().hex[:12]}")
    return Lake("postgres", conninfo, f"{tmp_path}/data/")


@pytest.fixture(params=["sqlite", "postgres"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    return new_lake(request.param, request, tmp_path)


SCHEMA = (
    "SELECT table_name, column_name, data_type FROM information_schema.columns "
    "WHERE table_catalog = current_database() ORDER BY table_name, column_name"
)


def test_a_lake_takes_the_warehouse_schema_and_readers_keep_their_snapshot(
    lake: Lake, tmp_path: Path
) -> None:
    """Every migration and view applies to the lake, giving the tables,
    columns and types of a DuckDB-file warehouse; a second opening applies
    nothing; a reader holding the lake open keeps its snapshot while a
    writer commits, and does not hold the writer up."""
    con = connection.connect_lake(lake)
    versions = [int(f.name[:3]) for f in connection.migrations_dir().glob("[0-9]*.sql")]
    assert connection.migrate(con, keys=False) == sorted(versions)
    file = duckdb.connect(str(tmp_path / "news.duckdb"))
    connection.migrate(file)
    assert con.execute(SCHEMA).fetchall() == file.execute(SCHEMA).fetchall()
    views = "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1"
    assert con.execute(views).fetchall() == file.execute(views).fetchall()
    file.close()
    con.close()

    again = connection.connect_lake(lake)
    assert connection.migrate(again, keys=False) == []
    reader = connection.connect_lake(lake, read_only=True)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM sources").fetchone() == (0,)
    again.execute(
        "INSERT INTO sources (source_id, name, kind, domains) "
        "VALUES ('s1', 'One', 'publisher', ['one.test'])"
    )
    assert reader.execute("SELECT count(*) FROM sources").fetchone() == (0,)  # its snapshot
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM sources").fetchone() == (1,)
    reader.close()
    again.close()


def test_a_new_lake_gets_all_its_tables_in_one_commit_and_a_reader_before_is_told(
    tmp_path: Path,
) -> None:
    """Readers attach a lake as soon as its first writer has attached it: before
    that writer's schema commits they see no table at all (and `ingest query`
    says the lake holds none yet), after it every table and view at once;
    never a lake with some migrations applied."""
    found = parse_warehouse(f"ducklake:sqlite:{tmp_path}/news.sqlite")
    assert isinstance(found, Lake)
    writer = connection.connect_lake(found)
    tables = "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'wh'"
    with pytest.raises(read.WarehouseError, match="holds no ingest tables"):
        read.query(found, "SELECT count(*) FROM articles")
    seen: list[int] = []
    reader = connection.connect_lake(found, read_only=True)

    def watch() -> None:
        reader.execute("BEGIN")
        row = reader.execute(tables).fetchone()
        seen.append(row[0] if row else -1)
        reader.execute("COMMIT")

    watch()
    versions = connection.migrate(writer, keys=False)
    watch()
    snapshots = writer.execute("SELECT count(*) FROM ducklake_snapshots('wh')").fetchone()
    writer.close()
    reader.close()
    assert versions and seen[0] == 0 and seen[1] > 10
    assert snapshots == (2,), "the lake's creation, then its whole schema in one snapshot"
    assert read.query(found, "SELECT count(*) FROM articles").rows == [(0,)]


def test_the_write_paths_keys_are_the_files_primary_keys(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "news.duckdb"))
    connection.migrate(con)
    declared = {
        table: tuple(columns)
        for table, columns in con.execute(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    }
    con.close()
    assert declared == KEYS


@pytest.fixture(params=["file", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    if request.param == "file":
        con = connection.connect(tmp_path / "news.duckdb")
        connection.migrate(con)
    else:
        con = connection.connect_lake(new_lake(request.param, request, tmp_path))
        connection.migrate(con, keys=False)
    yield con
    con.close()


def test_rows_go_in_once_per_key_on_a_file_and_on_a_lake(
    store: duckdb.DuckDBPyConnection,
) -> None:
    """The write path's own key rule, the same on both backends: ``keep``
    leaves a known key's row as it is, ``update`` sets its columns; a key
    given twice in one batch goes in once."""
    now = datetime(2026, 11, 30, tzinfo=UTC)
    first = {"url": "https://a.test/1", "article_id": "a1"}
    insert(store, "article_urls", [first, first], "keep")
    insert(store, "article_urls", [{**first, "article_id": "a2"}], "keep")
    assert store.execute("SELECT url, article_id FROM article_urls").fetchall() == [
        ("https://a.test/1", "a1")
    ]
    robots = {"origin": "https://a.test", "fetched_at": now, "expires_at": now}
    robots |= {"status": 200, "outcome": "ok"}
    insert(store, "robots", [robots], "update")
    insert(store, "robots", [{**robots, "status": 404}], "update")
    assert store.execute("SELECT origin, status FROM robots").fetchall() == [
        ("https://a.test", 404)
    ]


ARTICLES = (
    "SELECT url, canonical_url, title, source_id, wire_service, body_status, author, "
    "published_at, language, content_hash FROM articles ORDER BY url"
)
STORIES = "SELECT size, count(*) FROM clusters GROUP BY size ORDER BY size"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_poll_loads_a_lake_as_it_loads_a_file_while_a_reader_holds_it(
    kind: str,
    settings: Settings,
    registry: Registry,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """The same two polls of the demo site into a DuckDB file and into a lake
    give the same articles, stories and sightings; a client that holds the
    lake open (inside a transaction) the whole time delays no load and keeps
    its snapshot; ``ingest query`` reads the lake."""
    lake = new_lake(kind, request, tmp_path / "lake")
    on_lake = replace(settings, warehouse=lake)
    run_once(on_lake, registry)  # the lake exists before the client opens it
    client = connection.connect_lake(lake, read_only=True)
    client.execute("BEGIN")
    before = client.execute("SELECT count(*) FROM sightings").fetchone()
    for _ in range(2):
        run_once(settings, registry)
    assert run_once(on_lake, registry)["batches_failed"] == 0
    assert client.execute("SELECT count(*) FROM sightings").fetchone() == before
    client.execute("COMMIT")
    client.close()
    for sql in (ARTICLES, STORIES, "SELECT count(*) FROM sightings", "SELECT count(*) FROM runs"):
        assert read.query(lake, sql).rows == read.query(settings.warehouse, sql).rows, sql
    assert read.query(lake, "SELECT count(*) FROM articles").rows[0][0] > 0
    with pytest.raises(connection.WarehouseError, match="refused"):
        read.query(lake, "SELECT * FROM read_csv('/etc/passwd')")


def test_the_command_line_reads_a_lake_and_refuses_a_wrong_one(
    settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    uri = f"ducklake:sqlite:{tmp_path}/news.sqlite"
    lake = parse_warehouse(uri)
    run_once(replace(settings, warehouse=lake), registry)
    runner = CliRunner()
    sql = "SELECT count(*) > 0 AS loaded FROM articles"
    done = runner.invoke(app, ["--warehouse", uri, "query", sql, "--format", "csv"])
    assert done.exit_code == 0, done.stderr
    assert done.stdout.split() == ["loaded", "True"]
    wrong = runner.invoke(app, ["--warehouse", "ducklake:mysql:x", "query", "SELECT 1"])
    assert wrong.exit_code == 2
    assert "unknown DuckLake catalog" in wrong.stderr


def test_queries_give_times_in_utc_on_a_file_and_on_a_lake(tmp_path: Path) -> None:
    """DuckDB 1.5 takes no TimeZone when a connection opens: every connection
    sets it right after, the read path's included (whatever the machine's zone)."""
    file = tmp_path / "news.duckdb"
    with connection.writer(file):
        pass
    lake = parse_warehouse(f"ducklake:sqlite:{tmp_path}/news.sqlite")
    with connection.writer(lake):
        pass
    for where in (file, lake):
        assert read.query(where, "SELECT current_setting('TimeZone')").rows == [("UTC",)]
