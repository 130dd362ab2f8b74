"""Datasets out of the warehouse (``ingest export``).

An export is a folder: one file per partition (a day, or a source) under
``<dataset>/<key>=<value>/data.<ext>`` (Hive-style: DuckDB, Spark and pandas
read the folder as one table), a ``manifest.json`` (filters, per-file row
counts and SHA-256, the schema, what warehouse state it reflects) and a
``datasheet.md`` for people (sources, languages, how bodies were extracted,
known gaps). Everything is read from one snapshot of the warehouse, in a
fixed order, and nothing in the files says when they were written, so the
same export run again gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa

from ingest.location import Lake, location_text
from ingest.store import read
from ingest.store.connection import WarehouseError
from ingest.store.schema import language_is, sql_literal

Dataset = Literal["articles", "stories", "sightings"]
Format = Literal["jsonl", "parquet", "csv"]
Partition = Literal["day", "source"]
# What an export does with articles whose publisher reserved their reuse
# (``reuse = 'reserved'``): everything as stored, bodies and descriptions
# blanked (the metadata and the ``rights`` evidence stay), or the rows left out.
RightsMode = Literal["all", "redact", "omit"]

EXTENSIONS: dict[str, str] = {"jsonl": "jsonl", "parquet": "parquet", "csv": "csv"}
READERS: dict[str, str] = {"jsonl": "read_json", "parquet": "read_parquet", "csv": "read_csv"}
COPY_OPTIONS: dict[str, str] = {
    "jsonl": "FORMAT json",
    "parquet": "FORMAT parquet, COMPRESSION zstd",
    "csv": "FORMAT csv, HEADER true",
}


@dataclass(frozen=True)
class ExportSpec:
    """What to export: a dataset, a date range (inclusive), optional sources
    and language, the file format, the partitioning, bodies or not."""

    since: date
    until: date
    dataset: Dataset = "articles"
    fmt: Format = "jsonl"
    partition: Partition = "day"
    sources: tuple[str, ...] = ()
    language: str | None = None
    body: bool = True
    at: str | None = None  # a lake's snapshot (id or time)
    rights: RightsMode = "all"


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative to the export folder
    rows: int
    sha256: str


@dataclass(frozen=True)
class Exported:
    out: Path
    rows: int
    files: tuple[ExportedFile, ...]


class ExportError(WarehouseError):
    """An export that cannot be made as asked."""


RESERVED = "reserved"
RIGHTS_NOTE: dict[str, str] = {
    "all": "every article as stored; `reuse` and `rights` say what each publisher declared "
    "(`reserved`: TDM rights reserved, noai or noarchive, or AI crawlers disallowed).",
    "redact": "articles whose publisher reserved their reuse keep their metadata and "
    "`rights`, without body or description (`--respect-rights`).",
    "omit": "articles whose publisher reserved their reuse are left out "
    "(`--respect-rights --omit-reserved`).",
}

# -------------------------------------------------------------------- the rows

_ARTICLE_DAY = "coalesce(a.published_at, a.first_seen_at)"


def _utc(column: str) -> str:
    """A TIMESTAMPTZ as UTC wall time, whatever the session's time zone."""
    return f"({column} AT TIME ZONE 'UTC')"


def _between(column: str, spec: ExportSpec) -> str:
    return (
        f"{_utc(column)}::DATE BETWEEN {sql_literal(spec.since.isoformat())}::DATE "
        f"AND {sql_literal(spec.until.isoformat())}::DATE"
    )


def _sources(column: str, spec: ExportSpec) -> str:
    return f"{column} IN ({', '.join(sql_literal(s) for s in spec.sources)})"


def dataset_sql(spec: ExportSpec) -> str:
    """The rows of the dataset, with ``_part`` (the partition's value), in
    their one fixed order."""
    if spec.dataset == "articles":
        where = [_between(_ARTICLE_DAY, spec)]
        if spec.sources:
            where.append(_sources("a.source_id", spec))
        if spec.language:
            where.append(language_is("a.language", spec.language))
        if spec.rights == "omit":
            where.append(f"a.reuse IS DISTINCT FROM {sql_literal(RESERVED)}")
        exclude = "EXCLUDE (body)" if not spec.body else ""
        if spec.rights == "redact":
            blank = [c for c in ("body", "description") if spec.body or c != "body"]
            exclude += (
                " REPLACE ("
                + ", ".join(
                    f"CASE WHEN a.reuse = {sql_literal(RESERVED)} THEN NULL ELSE a.{c} END AS {c}"
                    for c in blank
                )
                + ")"
            )
        part = (
            f"strftime({_utc(_ARTICLE_DAY)}, '%Y-%m-%d')"
            if spec.partition == "day"
            else "a.source_id"
        )
        return (
            f"SELECT {part} AS _part, a.* {exclude} FROM articles a "
            f"WHERE {' AND '.join(where)} ORDER BY _part, a.article_id"
        )
    if spec.dataset == "stories":
        day = "coalesce(s.first_published_at, s.first_seen_at)"
        where = [_between(day, spec)]
        if spec.sources:
            where.append(
                f"list_has_any(s.sources, [{', '.join(sql_literal(x) for x in spec.sources)}])"
            )
        if spec.language:
            where.append(
                "s.cluster_id IN (SELECT cluster_id FROM articles a WHERE "
                f"{language_is('a.language', spec.language)})"
            )
        part = (
            f"strftime({_utc(day)}, '%Y-%m-%d')"
            if spec.partition == "day"
            else "s.origin_source_id"
        )
        return (
            f"SELECT {part} AS _part, s.* FROM stories s WHERE {' AND '.join(where)} "
            "ORDER BY _part, s.cluster_id"
        )
    where = [_between("g.seen_at", spec)]
    if spec.sources:
        where.append(_sources("g.source_id", spec))
    if spec.language:
        where.append(
            "g.article_id IN (SELECT article_id FROM articles a WHERE "
            f"{language_is('a.language', spec.language)})"
        )
    part = (
        f"strftime({_utc('g.seen_at')}, '%Y-%m-%d')" if spec.partition == "day" else "g.source_id"
    )
    return (
        f"SELECT {part} AS _part, g.* FROM sightings g WHERE {' AND '.join(where)} "
        "ORDER BY _part, g.seen_at, g.article_id, g.feed_id, g.run_id"
    )


# -------------------------------------------------------------------- writing


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe(value: str) -> str:
    """A partition value as a folder name (source ids are already safe)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in value) or "_"


@contextmanager
def _writer() -> Any:
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET threads = 1")  # one row order, one file layout
        yield con
    finally:
        con.close()


def _write_parts(table: pa.Table, out: Path, spec: ExportSpec) -> list[ExportedFile]:
    key = spec.partition
    ext = EXTENSIONS[spec.fmt]
    files: list[ExportedFile] = []
    with _writer() as con:
        con.register("rows_in", table)
        parts = [
            r[0] for r in con.execute("SELECT DISTINCT _part FROM rows_in ORDER BY 1").fetchall()
        ]
        for value in parts:
            folder = out / spec.dataset / f"{key}={_safe(str(value))}"
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"data.{ext}"
            con.execute(
                "COPY (SELECT * EXCLUDE (_part, _row) FROM "
                "(SELECT *, row_number() OVER () AS _row FROM rows_in) "
                f"WHERE _part IS NOT DISTINCT FROM ? ORDER BY _row) "
                f"TO {sql_literal(str(target))} ({COPY_OPTIONS[spec.fmt]})",
                [value],
            )
            rows = con.execute(
                "SELECT count(*) FROM rows_in WHERE _part IS NOT DISTINCT FROM ?", [value]
            ).fetchone()
            files.append(
                ExportedFile(
                    str(target.relative_to(out)), int(rows[0]) if rows else 0, _sha256(target)
                )
            )
    return files


# -------------------------------------------------------------------- describing


def _state(con: duckdb.DuckDBPyConnection, warehouse: Path | Lake) -> dict[str, Any]:
    """What warehouse state the export reflects: the last finished run (and on
    a lake, the snapshot read)."""
    state: dict[str, Any] = {"warehouse": location_text(warehouse)}
    row = con.execute(
        "SELECT run_id, strftime(finished_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') FROM runs "
        "WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, run_id LIMIT 1"
    ).fetchone()
    state["last_run"] = {"run_id": row[0], "finished_at": row[1]} if row else None
    if isinstance(warehouse, Lake):
        # the snapshot this connection reads (the latest, or the one --at names)
        snap = con.execute("FROM wh.current_snapshot()").fetchone()
        state["snapshot"] = int(snap[0]) if snap and snap[0] is not None else None
    return state


def _count_table(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in con.execute(sql).fetchall()]


def _datasheet(
    spec: ExportSpec,
    manifest: dict[str, Any],
    facts: dict[str, list[tuple[Any, ...]]],
) -> str:
    """The export's datasheet (Markdown), from the manifest and the facts
    gathered in the same snapshot."""
    filters = manifest["filters"]
    lines = [
        f"# Dataset: {spec.dataset}, {spec.since} to {spec.until}",
        "",
        f"{manifest['rows']:,} rows in {len(manifest['files'])} {spec.fmt} files, "
        f"partitioned by {spec.partition} (`{spec.dataset}/{spec.partition}=VALUE/data."
        f"{EXTENSIONS[spec.fmt]}`). Bodies: {'included' if spec.body else 'left out'}.",
        "",
        f"Rights: {RIGHTS_NOTE[spec.rights]}",
        "",
        "## What it holds",
        "",
        f"- Date range: {filters['since']} to {filters['until']} (inclusive; articles by "
        "publication date, else first seen; stories by first publication; sightings by "
        "when the feed listed them).",
        f"- Sources: {', '.join(filters['sources']) if filters['sources'] else 'all'}; "
        f"language: {filters['language'] or 'all'}.",
        f"- Warehouse: `{manifest['reflects']['warehouse']}`; last finished run "
        + (
            f"`{manifest['reflects']['last_run']['run_id']}` "
            f"({manifest['reflects']['last_run']['finished_at']})"
            if manifest["reflects"]["last_run"]
            else "none"
        )
        + (
            f"; snapshot {manifest['reflects']['snapshot']}"
            if manifest["reflects"].get("snapshot") is not None
            else ""
        )
        + ".",
        "",
        "## Articles per source",
        "",
        "| source | name | articles |",
        "|---|---|---:|",
    ]
    lines += [f"| {s} | {n or ''} | {c:,} |" for s, n, c in facts["sources"]]
    lines += ["", "## Languages", "", "| language | articles |", "|---|---:|"]
    lines += [f"| {lang or '(unknown)'} | {c:,} |" for lang, c in facts["languages"]]
    lines += [
        "",
        "## How bodies were extracted",
        "",
        "`extractor` says what produced the body (`trafilatura-X.Y.Z`: the page; "
        "`feed-content`/`feed-summary`: the feed's own text); `body_status` whether it is "
        "final (`page`, `feed-final`) or may still be replaced (`provisional`).",
        "",
        "| extractor | body_status | articles |",
        "|---|---|---:|",
    ]
    lines += [f"| {e} | {b or ''} | {c:,} |" for e, b, c in facts["extraction"]]
    lines += [
        "",
        "## What publishers declared about reuse",
        "",
        "`reuse` sums up each page's rights signals as fetched (`rights` holds the "
        "evidence): `reserved` (TDM rights reserved, `noai`, `noarchive`, or AI crawlers "
        "disallowed by robots.txt), `open` (a Creative Commons licence or public-domain "
        "dedication), `unknown` (no signal, or no page).",
        "",
        "| reuse | articles |",
        "|---|---:|",
    ]
    lines += [f"| {r or 'unknown'} | {c:,} |" for r, c in facts["reuse"]]
    lines += [
        "",
        "## Known gaps",
        "",
        "Items that did not become articles in the period (`rejects`), by stage and reason:",
        "",
        "| stage | reason | items |",
        "|---|---|---:|",
    ]
    lines += [f"| {st} | {r} | {c:,} |" for st, r, c in facts["rejects"]] or ["| - | none | 0 |"]
    lines += [
        "",
        "## Reading it",
        "",
        "```sql",
        f"SELECT * FROM {READERS[spec.fmt]}('{spec.dataset}/*/data.{EXTENSIONS[spec.fmt]}', "
        "hive_partitioning = true);",
        "```",
        "",
        "`manifest.json` lists every file with its row count and SHA-256, and the schema.",
        "",
    ]
    return "\n".join(lines)


def _facts(con: duckdb.DuckDBPyConnection, spec: ExportSpec) -> dict[str, list[tuple[Any, ...]]]:
    articles = dataset_sql(ExportSpec(**{**spec.__dict__, "dataset": "articles", "body": False}))
    base = f"({articles})"
    return {
        "sources": _count_table(
            con,
            f"SELECT a.source_id, any_value(s.name), count(*) FROM {base} a "
            "LEFT JOIN sources s USING (source_id) GROUP BY 1 ORDER BY 3 DESC, 1",
        ),
        "languages": _count_table(
            con, f"SELECT language, count(*) FROM {base} GROUP BY 1 ORDER BY 2 DESC, 1"
        ),
        "extraction": _count_table(
            con,
            f"SELECT extractor, body_status, count(*) FROM {base} GROUP BY 1, 2 "
            "ORDER BY 3 DESC, 1, 2",
        ),
        "reuse": _count_table(
            con, f"SELECT reuse, count(*) FROM {base} GROUP BY 1 ORDER BY 2 DESC, 1"
        ),
        "rejects": _count_table(
            con,
            f"SELECT stage, reason, count(*) FROM rejects WHERE {_between('rejected_at', spec)} "
            "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 20",
        ),
    }


def export(warehouse: Path | Lake, out: Path, spec: ExportSpec) -> Exported:
    """Write the dataset ``spec`` asks for into the folder ``out`` (its
    dataset folder, manifest and datasheet replaced; anything else in it left
    alone)."""
    if spec.since > spec.until:
        raise ExportError(f"--since {spec.since} is after --until {spec.until}")
    held = out / "manifest.json"
    if held.exists():
        try:
            other = json.loads(held.read_text(encoding="utf-8")).get("dataset")
        except (ValueError, AttributeError):
            other = None
        if other != spec.dataset:
            raise ExportError(
                f"{out} holds an export of {other or 'something else'}: one folder holds one "
                "dataset (choose another --out)"
            )
    limits = read.ReadLimits(at=spec.at)
    with read.reading(warehouse, limits=limits) as con:
        con.execute("BEGIN TRANSACTION")  # one snapshot of a lake for everything below
        table = con.sql(dataset_sql(spec)).to_arrow_table()
        schema = _schema(con, spec)
        facts = _facts(con, spec)
        reflects = _state(con, warehouse)
        con.execute("COMMIT")
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / spec.dataset, ignore_errors=True)
    files = _write_parts(table, out, spec)
    manifest: dict[str, Any] = {
        "dataset": spec.dataset,
        "format": spec.fmt,
        "partition": spec.partition,
        "body": spec.body,
        "filters": {
            "since": spec.since.isoformat(),
            "until": spec.until.isoformat(),
            "sources": list(spec.sources),
            "language": spec.language,
            "at": spec.at,
            "respect_rights": spec.rights,
        },
        "rows": sum(f.rows for f in files),
        "files": [f.__dict__ for f in files],
        "schema": schema,
        "reflects": reflects,
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8"
    )
    (out / "datasheet.md").write_text(_datasheet(spec, manifest, facts), encoding="utf-8")
    return Exported(out, manifest["rows"], tuple(files))


def _schema(con: duckdb.DuckDBPyConnection, spec: ExportSpec) -> list[dict[str, str]]:
    rows = con.execute(f"DESCRIBE {dataset_sql(spec)}").fetchall()
    return [{"name": r[0], "type": r[1]} for r in rows if r[0] != "_part"]
