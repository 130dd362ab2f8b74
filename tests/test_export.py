"""`ingest export`: datasets that read back equal to the warehouse rows they
claim to hold, byte-identical when run again, filtered and partitioned as
asked, with a manifest and a datasheet; on a DuckLake too, at a snapshot."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.conftest import run_once
from typer.testing import CliRunner

from ingest import export
from ingest.cli import app
from ingest.registry import Registry
from ingest.settings import Settings
from ingest.store import read
from ingest.store.schema import sql_literal

MARCH = {"since": date(2026, 3, 1), "until": date(2026, 3, 31)}
READERS = {"parquet": "read_parquet", "jsonl": "read_json", "csv": "read_csv"}


def read_back(out: Path, dataset: str, fmt: str) -> list[tuple[Any, ...]]:
    pattern = sql_literal(str(out / dataset / "*" / f"data.{export.EXTENSIONS[fmt]}"))
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        sql = f"SELECT * FROM {READERS[fmt]}({pattern}, hive_partitioning = false)"
        return con.execute(sql).fetchall()


def warehouse_rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in read.query(settings.warehouse, sql).rows]


def files_of(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def loaded(settings: Settings, registry: Registry) -> Settings:
    run_once(settings, registry)
    return settings


def test_parquet_reads_back_equal_to_the_warehouse(loaded: Settings, tmp_path: Path) -> None:
    spec = export.ExportSpec(**MARCH, fmt="parquet")
    done = export.export(loaded.warehouse, tmp_path / "out", spec)
    got = read_back(tmp_path / "out", "articles", "parquet")
    want = warehouse_rows(
        loaded,
        "SELECT * FROM articles WHERE coalesce(published_at, first_seen_at) "
        "BETWEEN '2026-03-01' AND '2026-04-01' ORDER BY article_id",
    )
    assert done.rows == len(want) == len(got) > 0
    assert sorted(got, key=lambda r: r[0]) == want


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_text_formats_read_back_equal_to_the_warehouse(
    loaded: Settings, tmp_path: Path, fmt: str
) -> None:
    export.export(loaded.warehouse, tmp_path / "out", export.ExportSpec(**MARCH, fmt=fmt))
    got = read_back(tmp_path / "out", "articles", fmt)
    columns = list(
        duckdb.connect()
        .sql(
            f"SELECT * FROM {READERS[fmt]}("
            f"{sql_literal(str(next((tmp_path / 'out' / 'articles').rglob('data.*'))))})"
        )
        .columns
    )
    index = {c: i for i, c in enumerate(columns)}
    text = ["article_id", "canonical_url", "source_id", "title", "body", "language", "content_hash"]
    want = warehouse_rows(
        loaded, f"SELECT {', '.join(text)}, epoch(published_at) FROM articles ORDER BY 1"
    )
    mine = sorted(
        (
            *(str(r[index[c]]) for c in text),
            r[index["published_at"]],
        )
        for r in got
    )
    assert [m[:-1] for m in mine] == [tuple(str(v) for v in w[:-1]) for w in want]
    # the instant survives the text form
    with duckdb.connect() as con:
        instants = [
            con.execute("SELECT epoch(?::TIMESTAMPTZ)", [str(m[-1])]).fetchone()[0]  # type: ignore[index]
            for m in mine
        ]
    assert instants == [w[-1] for w in want]


def test_the_same_export_again_is_byte_identical(loaded: Settings, tmp_path: Path) -> None:
    for fmt in ("jsonl", "parquet", "csv"):
        spec = export.ExportSpec(**MARCH, fmt=fmt)  # type: ignore[arg-type]
        export.export(loaded.warehouse, tmp_path / f"a-{fmt}", spec)
        export.export(loaded.warehouse, tmp_path / f"b-{fmt}", spec)
        first, second = files_of(tmp_path / f"a-{fmt}"), files_of(tmp_path / f"b-{fmt}")
        assert first == second and any(k.endswith(fmt) for k in first)
        # into the same folder again: the same bytes
        export.export(loaded.warehouse, tmp_path / f"a-{fmt}", spec)
        assert files_of(tmp_path / f"a-{fmt}") == first


def test_manifest_and_datasheet(loaded: Settings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export.export(loaded.warehouse, out, export.ExportSpec(**MARCH, partition="source"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"] == "articles" and manifest["filters"]["since"] == "2026-03-01"
    for entry in manifest["files"]:
        path = out / entry["path"]
        assert entry["path"].startswith("articles/source=")
        assert len(path.read_text().splitlines()) == entry["rows"]
        import hashlib

        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    assert manifest["rows"] == sum(f["rows"] for f in manifest["files"])
    assert {c["name"] for c in manifest["schema"]} >= {"article_id", "body", "published_at"}
    ((run_id,),) = warehouse_rows(loaded, "SELECT run_id FROM runs")
    assert manifest["reflects"]["last_run"]["run_id"] == run_id
    sheet = (out / "datasheet.md").read_text()
    for expected in ("harbour-times", "| en |", "trafilatura-", "## Known gaps", "read_json("):
        assert expected in sheet, expected


def test_filters_partitions_and_no_body(loaded: Settings, tmp_path: Path) -> None:
    spec = export.ExportSpec(
        **MARCH, sources=("harbour-times",), language="en", body=False, fmt="parquet"
    )
    export.export(loaded.warehouse, tmp_path / "one", spec)
    rows = read_back(tmp_path / "one", "articles", "parquet")
    want = warehouse_rows(
        loaded,
        "SELECT count(*) FROM articles WHERE source_id = 'harbour-times' AND language = 'en'",
    )
    assert len(rows) == want[0][0] > 0
    schema = [
        c["name"] for c in json.loads((tmp_path / "one" / "manifest.json").read_text())["schema"]
    ]
    assert "body" not in schema and "title" in schema
    days = export.ExportSpec(since=date(2026, 3, 10), until=date(2026, 3, 10))
    one_day = export.export(loaded.warehouse, tmp_path / "day", days)
    assert [f.path for f in one_day.files] == ["articles/day=2026-03-10/data.jsonl"]
    nothing = export.export(
        loaded.warehouse,
        tmp_path / "none",
        export.ExportSpec(since=date(2020, 1, 1), until=date(2020, 1, 2)),
    )
    assert nothing.rows == 0 and nothing.files == ()


def test_stories_and_sightings(loaded: Settings, tmp_path: Path) -> None:
    stories = export.export(
        loaded.warehouse, tmp_path / "stories", export.ExportSpec(**MARCH, dataset="stories")
    )
    ((count,),) = warehouse_rows(
        loaded,
        "SELECT count(*) FROM stories WHERE coalesce(first_published_at, first_seen_at) "
        "BETWEEN '2026-03-01' AND '2026-04-01'",
    )
    assert stories.rows == count > 0
    today = date.today()
    sightings = export.export(
        loaded.warehouse,
        tmp_path / "sightings",
        export.ExportSpec(since=today, until=today, dataset="sightings", fmt="csv"),
    )
    ((seen,),) = warehouse_rows(loaded, "SELECT count(*) FROM sightings")
    assert sightings.rows == seen > 0
    with pytest.raises(export.ExportError, match="one folder holds one dataset"):
        export.export(loaded.warehouse, tmp_path / "stories", export.ExportSpec(**MARCH))


@pytest.mark.parametrize("backend", ["lake"], indirect=True)
def test_a_lake_export_names_its_snapshot_and_reads_an_earlier_one(
    settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    run_once(settings, registry)
    out = tmp_path / "now"
    now = export.export(settings.warehouse, out, export.ExportSpec(**MARCH))
    snapshot = json.loads((out / "manifest.json").read_text())["reflects"]["snapshot"]
    assert isinstance(snapshot, int) and now.rows > 0
    listed = read.snapshots(settings.warehouse, limit=1000).rows
    before = min(int(r[0]) for r in listed if str(r[3]).startswith("load:")) - 1
    early = export.export(
        settings.warehouse, tmp_path / "early", export.ExportSpec(**MARCH, at=str(before))
    )
    assert early.rows == 0  # before the run's first load: no articles yet
    manifest = json.loads((tmp_path / "early" / "manifest.json").read_text())
    assert manifest["reflects"]["snapshot"] == before < snapshot


def test_export_command(loaded: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--warehouse", str(loaded.warehouse)]
    out = tmp_path / "cli"
    ok = runner.invoke(
        app,
        [*base, "export", "--since", "2026-03-01", "--until", "2026-03-31", "--out", str(out),
         "--format", "parquet", "--partition", "source", "--no-body"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "exported" in ok.output and (out / "manifest.json").exists()
    for args, code in (
        (["--since", "2026-03-31", "--until", "2026-03-01"], 2),
        (["--since", "2026-02-30", "--until", "2026-03-01"], 2),
        (["--since", "2026-03-01", "--until", "2026-03-31", "--source", "nope"], 2),
        (["--since", "2026-03-01", "--until", "2026-03-31", "--dataset", "stories"], 1),
    ):
        result = runner.invoke(app, [*base, "export", *args, "--out", str(out)])
        assert result.exit_code == code and "error" in result.output, (args, result.output)
