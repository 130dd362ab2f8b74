"""The ``ingest`` command line: a thin front door over the library and flows.

Every command calls the library and turns its small, named exceptions
(:class:`RegistryError`, :class:`WarehouseError`) into one clear message and
a non-zero exit code.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import decimal
import importlib
import io
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer
from rich.console import Console
from rich.table import Table

from ingest import stopping
from ingest.location import Lake, LocationError, location_text, parse_warehouse
from ingest.registry import (
    RegistryError,
    export_opml,
    import_opml,
    load_registry,
    opml_feeds,
)
from ingest.settings import SettingError, Settings, default_sources_path
from ingest.store import connection, read, staging
from ingest.store import feeds as store_feeds

if TYPE_CHECKING:
    from ingest.status import Status

app = typer.Typer(
    name="ingest",
    help="news-ingest: poll RSS/Atom feeds, extract articles, load a DuckDB warehouse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no Python types beside flags and lists
)
sources_app = typer.Typer(
    help="The source registry: list, import OPML, export OPML.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(sources_app, name="sources")
warehouse_app = typer.Typer(
    help="The warehouse itself: copy it into a DuckLake, keep it compact.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(warehouse_app, name="warehouse")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


class State:
    settings: Settings = Settings()
    sources_given: bool = False


state = State()


@app.callback()
def main_options(
    warehouse_path: Annotated[
        str | None,
        typer.Option(
            "--warehouse",
            envvar="INGEST_WAREHOUSE",
            help="DuckDB warehouse file, or a DuckLake: ducklake:sqlite:PATH or "
            "ducklake:postgres:CONNINFO with INGEST_DATA_PATH [default: warehouse/news.duckdb]",
        ),
    ] = None,
    sources: Annotated[
        Path | None,
        typer.Option(
            "--sources",
            envvar="INGEST_SOURCES",
            help="Source registry (TOML) [default: the curated registry shipped with the package]",
        ),
    ] = None,
) -> None:
    try:
        state.settings = Settings.from_env(warehouse=warehouse_path, sources=sources)
    except (LocationError, SettingError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    state.sources_given = sources is not None


def _warehouse_directory_exists() -> None:
    """A warehouse setting pointing into a directory that does not exist is a
    usage error (exit 2): a typo, not a warehouse still to come. Every command
    that uses the warehouse checks it first, except those that make it (`run`,
    `backfill`, `serve`, `demo`). (In the commands, not the app's callback:
    the callback runs before a command's --help, which must always work.)"""
    where = state.settings.warehouse
    if isinstance(where, Lake):
        if where.catalog != "sqlite":
            return
        path = Path(where.target)
    else:
        path = Path(where)
    if not path.parent.is_dir():
        err.print(
            f"[red]error:[/red] the warehouse {path} is in a directory that does not exist "
            f"({path.parent}); check INGEST_WAREHOUSE / --warehouse",
            highlight=False,
        )
        raise typer.Exit(2)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Library errors become one message on stderr and exit code 1 (2: a
    warehouse asked for what its kind cannot do)."""
    try:
        yield
    except read.NoSnapshots as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except (RegistryError, connection.WarehouseError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


# --------------------------------------------------------------------------- run


def _day_option(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        err.print(f"[red]error:[/red] {name} {value!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None


def _date_range(since: str | None, until: str | None) -> tuple[dt.date | None, dt.date | None]:
    """``--since``/``--until`` as dates, in order, or one line and exit 2."""
    first, last = _day_option(since, "--since"), _day_option(until, "--until")
    if first and last and first > last:
        err.print(f"[red]error:[/red] --since {first} is after --until {last}")
        raise typer.Exit(2)
    return first, last


def _both_dates(since: str | None, until: str | None) -> tuple[dt.date, dt.date]:
    """As :func:`_date_range`, both given."""
    first, last = _date_range(since, until)
    if first is None or last is None:
        err.print("[red]error:[/red] --since and --until are both needed")
        raise typer.Exit(2)
    return first, last


def _check_sources(settings: Settings, ids: list[str]) -> None:
    """The registry loads and knows every ``--source`` id, or one clear error."""
    with clear_errors():
        registry = load_registry(settings.sources)
    unknown = [s for s in ids if registry.get(s) is None]
    if unknown:
        names = ", ".join(repr(u) for u in unknown)
        err.print(
            f"[red]error:[/red] unknown source id {names} (not in {settings.sources}; "
            "`ingest sources list` shows them)",
            highlight=False,
        )
        raise typer.Exit(2)


ACCEPT_HELP = (
    "Sync the registry even though it is another file than last time, or drops or changes "
    "sources, domains, credits or kinds that stored articles use."
)


@app.command()
def run(
    all_feeds: Annotated[
        bool, typer.Option("--all-feeds", help="Fetch every feed, due or not.")
    ] = False,
    source: Annotated[
        list[str] | None, typer.Option("--source", metavar="ID", help="Only these source ids.")
    ] = None,
    accept_registry_change: Annotated[
        bool, typer.Option("--accept-registry-change", help=ACCEPT_HELP)
    ] = False,
) -> None:
    """One ingestion pass over due feeds, as a Prefect flow run.

    Exits 0 when the run completed, even if some feeds failed: failures are
    rows in fetch_log and rejects. Exits 1 when the run failed (no network
    included), 130 or 143 when it was stopped by Ctrl+C or SIGTERM.
    """
    settings = state.settings
    _check_sources(settings, source or [])
    counts = _run_flow(
        "run",
        "ingest_feeds",
        bar=False,
        all_feeds=all_feeds,
        source_ids=list(source or []),
        accept_registry_change=accept_registry_change,
    )
    _print_counts("run summary", counts)


# --------------------------------------------------------------------------- backfill


class _RichBar:
    """The progress hook of the CLI: a rich bar with rate and time left."""

    def __init__(self) -> None:
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text  # noqa: PLC0415

        class Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                return Text(f"{task.speed or 0:.1f} pages/s")

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            Rate(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )
        self.task: Any = None

        self.restore: list[Callable[[], object]] = []

    def start(self, total: int, description: str) -> None:
        self.bar.start()
        self.task = self.bar.add_task(description, total=total)
        _print_logs_above(self.bar.console, self.restore)

    def advance(self, done: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, done)

    def stop(self) -> None:
        self.bar.stop()  # first: a line logged meanwhile prints as usual
        while self.restore:
            self.restore.pop()()


class _AboveBar(io.TextIOBase):
    """A text stream whose lines ``console`` prints above its live display
    (rich's own ``FileProxy`` cannot serve: a console unwraps it again)."""

    def __init__(self, console: Console, file: Any) -> None:
        self.console, self.file, self.partial = console, file, ""

    def write(self, text: str) -> int:
        from rich.text import Text  # noqa: PLC0415

        *lines, self.partial = (self.partial + text).split("\n")
        if lines:
            self.console.print(Text("\n").join(Text.from_ansi(line) for line in lines))
        return len(text)

    def flush(self) -> None:
        if self.partial:
            self.write("\n")

    def isatty(self) -> bool:
        return bool(self.file.isatty())

    def fileno(self) -> int:
        return int(self.file.fileno())


def _print_logs_above(console: Console, undo: list[Callable[[], object]]) -> None:
    """Send the log handlers that write to the terminal (Prefect's console
    handler among them) through ``console``, which prints each line above its
    live progress bar instead of into it; how to undo each swap is appended
    to ``undo`` as it is made. Never fails: at worst lines land in the bar."""
    terminal = {id(s) for s in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__) if s}
    try:
        known = list(logging.Logger.manager.loggerDict.values())  # threads may add loggers
    except RuntimeError:
        known = []
    loggers = [logging.getLogger(), *(one for one in known if isinstance(one, logging.Logger))]
    handlers = {id(h): h for one in loggers for h in list(one.handlers)}.values()
    for handler in handlers:
        own = getattr(handler, "console", None)  # a rich handler prints through its console
        if isinstance(own, Console) and id(own.file) in terminal:
            undo.append(_swap(own, "file", _AboveBar(console, own.file)))
        elif isinstance(handler, logging.StreamHandler) and id(handler.stream) in terminal:
            undo.append(_swap(handler, "stream", _AboveBar(console, handler.stream)))


def _swap(holder: object, name: str, value: object) -> Callable[[], object]:
    """Set ``holder.name`` to ``value``; returns how to put the old one back."""
    before = getattr(holder, name)
    setattr(holder, name, value)
    return lambda: setattr(holder, name, before)


# Ctrl+C / SIGTERM while a flow runs: the first stops early and loads what was
# fetched, a second quits at once (the children end with this process).
_stop = stopping.SignalStop(
    lambda message: err.print(message, highlight=False),
    "stopping; what was fetched is loaded, the rest waits for the next run "
    "(press Ctrl+C again to quit at once)",
)


# The flows the commands start, imported when first used (Prefect is slow to
# import, and ``ingest query`` needs none of it).
FLOWS = {
    "ingest_feeds": "flows.ingest_feeds",
    "backfill": "flows.backfill",
    "reprocess": "flows.reprocess",
}


def _flow(name: str) -> Callable[..., Any]:
    return cast(Callable[..., Any], getattr(importlib.import_module(FLOWS[name]), name))


def _run_flow(
    name: str,
    flow: str,
    *,
    bar: bool = True,
    settings: Settings | None = None,
    **params: Any,
) -> dict[str, int]:
    """Run a flow with the settings this command read (``settings``: others)
    and ``params``, with a progress bar, beside a temporary Prefect server of
    this process; one clear line on failure, 130/143 when stopped."""
    from flows.tempserver import ServerStartError, temporary_server  # noqa: PLC0415
    from prefect.exceptions import CancelledRun, FailedRun  # noqa: PLC0415

    from ingest import progress  # noqa: PLC0415

    start = _flow(flow)
    rich_bar = _RichBar() if bar else None
    progress.install(rich_bar)
    try:
        with _stop, temporary_server():
            return dict(_stop.drive(start(settings=settings or state.settings, **params)))
    except CancelledRun as exc:
        err.print(f"{name} stopped: {exc}", highlight=False)
        raise typer.Exit(128 + (_stop.signals[0] if _stop.signals else signal.SIGINT)) from None
    except (FailedRun, ServerStartError) as exc:
        err.print(f"[red]{name} failed:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    except (RegistryError, connection.WarehouseError, ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    except Exception as exc:
        if stopping.requested():
            err.print(f"{name} stopped: {stopping.reason()}", highlight=False)
            raise typer.Exit(128 + (_stop.signals[0] if _stop.signals else signal.SIGINT)) from None
        err.print(f"[red]{name} failed:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        if rich_bar is not None:
            rich_bar.stop()
        progress.install(None)


def _print_counts(title: str, counts: dict[str, int]) -> None:
    """The final counts of a command, each as it stood at the end; counters
    that stayed at zero are left out (the run's row and log keep them all)."""
    table = Table(title=title, show_header=True)
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for key, value in sorted(counts.items()):
        if value:
            table.add_row(key, f"{value:,}")
    if zero := sum(1 for value in counts.values() if not value):
        table.caption = f"{zero} counters at zero not shown"
    console.print(table)


@app.command()
def backfill(
    since: Annotated[str, typer.Option("--since", help="First publication date (YYYY-MM-DD).")],
    until: Annotated[
        str | None, typer.Option("--until", help="Last publication date, inclusive.")
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", metavar="ID", help="Only these sources.")
    ] = None,
    urls: Annotated[
        Path | None,
        typer.Option(
            "--urls", help="A file of article URLs, one per line.", exists=True, dir_okay=False
        ),
    ] = None,
    warc: Annotated[
        list[Path] | None,
        typer.Option(
            "--warc",
            metavar="FILE",
            help="WARC file(s), e.g. CC-NEWS.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    include_undated: Annotated[
        bool,
        typer.Option(
            "--include-undated",
            help="Also fetch sitemap/feed entries without a date (their page's date then decides).",
        ),
    ] = False,
    oldest_first: Annotated[bool, typer.Option("--oldest-first")] = False,
    accept_registry_change: Annotated[
        bool, typer.Option("--accept-registry-change", help=ACCEPT_HELP)
    ] = False,
) -> None:
    """Ingest history for a date range: sitemaps and archived feeds of the registry's
    sources, or a URL list, or WARC files. Resumable: run the same command again
    after an interruption and it continues where it stopped."""
    _date_range(since, until)
    settings = state.settings
    _check_sources(settings, source or [])
    counts = _run_flow(
        "backfill",
        "backfill",
        accept_registry_change=accept_registry_change,
        since=since,
        until=until,
        source_ids=list(source or []),
        urls_file=str(urls) if urls else None,
        warc=[str(w) for w in warc or []],
        include_undated=include_undated,
        oldest_first=oldest_first,
    )
    _print_counts("backfill summary", counts)


@app.command()
def reprocess(
    since: Annotated[str | None, typer.Option("--since", help="Articles published since.")] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", metavar="ID", help="Only these sources.")
    ] = None,
    accept_registry_change: Annotated[
        bool, typer.Option("--accept-registry-change", help=ACCEPT_HELP)
    ] = False,
) -> None:
    """Re-extract stored raw pages with the current extractor, without refetching;
    unchanged results leave rows untouched, changed ones keep a revision."""
    _warehouse_directory_exists()
    _date_range(since, None)
    _check_sources(state.settings, source or [])
    counts = _run_flow(
        "reprocess",
        "reprocess",
        accept_registry_change=accept_registry_change,
        since=since,
        source_ids=list(source or []),
    )
    _print_counts("reprocess summary", counts)


@app.command()
def serve(
    interval: Annotated[int, typer.Option("--interval", help="Minutes between runs.")] = 15,
    all_feeds: Annotated[
        bool, typer.Option("--all-feeds", help="Every run polls every feed.")
    ] = False,
) -> None:
    """Run the scheduled ingestion in this process (Prefect serve): the simplest way
    to keep ingestion going on one machine. Stop with Ctrl+C."""
    from flows.serve import NoSchedulerError, serve_scheduled  # noqa: PLC0415

    # A pass has two thirds of the interval to fetch pages unless the page
    # budget was set (INGEST_PAGE_BUDGET); what is left waits for the next pass.
    budget = state.settings.page_budget_seconds
    if budget == Settings().page_budget_seconds:
        budget = interval * 60 * 2 / 3
    try:
        serve_scheduled(
            interval_minutes=interval,
            all_feeds=all_feeds,
            page_budget=budget or 0,
            warehouse=location_text(state.settings.warehouse),
            sources=str(state.settings.sources),
        )
    except NoSchedulerError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


# --------------------------------------------------------------------------- query


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    parquet = "parquet"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run (read-only).")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
    allow_files: Annotated[
        bool,
        typer.Option(
            "--allow-files",
            help="Let the query read local files too (e.g. the staged Parquet batches).",
        ),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Stop the query after this many seconds [default: 300]."),
    ] = None,
    memory_limit: Annotated[
        str | None, typer.Option("--memory-limit", help="DuckDB memory limit [default: 4GB].")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="On a DuckLake: read it as it was at this snapshot id or time "
            "(`ingest snapshots` lists them).",
        ),
    ] = None,
    max_rows: Annotated[
        int,
        typer.Option("--max-rows", min=1, help="The table format shows at most this many rows."),
    ] = 50,
) -> None:
    """Read-only SQL against the warehouse, and nothing else: a statement that is
    not a SELECT is refused, local files are not readable unless --allow-files, and
    a query stops after --timeout seconds. The table shows --max-rows rows and
    says how many there are. On a DuckLake the query reads one
    snapshot (the latest, or --at) while loads commit."""
    _warehouse_directory_exists()
    settings = state.settings
    limits = read.ReadLimits(
        allow_files=allow_files,
        timeout_seconds=timeout if timeout is not None else settings.query_timeout_seconds,
        memory_limit=memory_limit or settings.query_memory_limit,
        at=at,
    )
    if fmt is Format.parquet:
        if output is None:
            err.print("[red]error:[/red] --format parquet needs --output FILE")
            raise typer.Exit(2)
        import pyarrow.parquet as pq  # noqa: PLC0415

        with clear_errors():
            arrow = read.query_arrow(settings.warehouse, sql, limits=limits)
        pq.write_table(arrow, output)
        err.print(f"wrote {arrow.num_rows} rows to {output}")
        return
    if fmt is Format.table and output is None:
        with clear_errors():
            head, total = read.query_head(settings.warehouse, sql, max_rows, limits=limits)
        _print_table(None, head)
        if total > len(head.rows):
            err.print(
                f"showing {len(head.rows):,} of {total:,} rows "
                "(--max-rows, or --format csv|json|jsonl|parquet for all)"
            )
        return
    with clear_errors():
        result = read.query(settings.warehouse, sql, limits=limits)
    _write_result(result, fmt, output)


def _write_result(result: read.QueryResult, fmt: Format, output: Path | None) -> None:
    """Rows as a table on the terminal, or as CSV or JSON (to ``output``)."""
    if fmt is Format.parquet:
        raise typer.BadParameter("parquet is written by `ingest query` only")
    if fmt is Format.table and output is None:
        _print_table(None, result)
        return
    buf = io.StringIO()
    if fmt is Format.csv or fmt is Format.table:
        writer = csv.writer(buf)
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    elif fmt is Format.jsonl:
        for r in result.rows:
            row = dict(zip(result.columns, r, strict=True))
            buf.write(json.dumps(row, default=_jsonable, ensure_ascii=False) + "\n")
    else:
        json.dump(
            [dict(zip(result.columns, r, strict=True)) for r in result.rows],
            buf,
            default=_jsonable,
            ensure_ascii=False,
            indent=1,
        )
        buf.write("\n")
    if output is None:
        sys.stdout.write(buf.getvalue())
    else:
        output.write_text(buf.getvalue(), encoding="utf-8")
        err.print(f"wrote {len(result.rows)} rows to {output}")


@app.command()
def snapshots(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    run: Annotated[
        str | None, typer.Option("--run", help="Only the snapshots this run made.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """A DuckLake's snapshots, newest first, with the run that made each;
    `ingest query --at SNAPSHOT` reads the warehouse as it was then."""
    _warehouse_directory_exists()
    with clear_errors():
        result = read.snapshots(state.settings.warehouse, limit=limit, run_id=run)
    _write_result(result, fmt, None)


# --------------------------------------------------------------------------- search


@app.command("search")
def search_command(
    words: Annotated[
        str,
        typer.Argument(
            metavar="QUERY",
            help='Words (all must match), "quoted phrases", -word to exclude, OR between words.',
        ),
    ],
    since: Annotated[
        str | None, typer.Option("--since", help="Published (else first seen) on or after.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="... on or before.")] = None,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", metavar="ID", help="Only this source (repeatable)."),
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="Only articles in this language.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many.")] = 20,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Build the index from the warehouse first.")
    ] = False,
) -> None:
    """Ranked full-text search (BM25) over titles and bodies, with a snippet
    around the best match. It reads the search index beside the warehouse
    (each run updates it after its loads), never the warehouse itself."""
    _warehouse_directory_exists()
    from ingest import search  # noqa: PLC0415

    settings = state.settings
    first, last = _date_range(since, until)
    if fmt is Format.parquet:
        err.print("[red]error:[/red] search writes table, csv, json or jsonl")
        raise typer.Exit(2)
    if source:
        _check_sources(settings, source)
    filters = search.Filters(first, last, tuple(source or ()), language)
    with clear_errors():
        if rebuild:
            done = search.update_index(settings.warehouse, settings.search_path, rebuild=True)
            err.print(f"search index: {done.total} articles in {done.path}")
        try:
            hits = search.search(settings.search_path, words, filters, limit)
        except search.QueryError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from None
    if fmt is Format.table:
        if not hits:
            err.print("no articles match")
        for n, h in enumerate(hits, 1):
            story = f"story of {h.story_size}" if h.story_size > 1 else "no other copies"
            console.print(f"{n}. {h.title or '(no title)'}", style="bold", markup=False)
            console.print(
                f"   {h.source_id} · {h.day or 'no date'} · {h.language or '?'} · {story} "
                f"· score {h.score:g}",
                markup=False,
                highlight=False,
            )
            console.print(f"   {h.snippet}", markup=False, highlight=False)
            console.print(f"   {h.url}", markup=False, highlight=False, soft_wrap=True)
        return
    columns = ["article_id", "score", "date", "source_id", "story_size", "language", "title"]
    columns += ["snippet", "url"]
    rows: list[tuple[Any, ...]] = [
        (
            h.article_id,
            h.score,
            h.day,
            h.source_id,
            h.story_size,
            h.language,
            h.title,
            h.snippet,
            h.url,
        )
        for h in hits
    ]
    result = read.QueryResult(columns, rows)
    _write_result(result, fmt, None)


# --------------------------------------------------------------------------- export


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"
    csv = "csv"


class ExportPartition(StrEnum):
    day = "day"
    source = "source"


class ExportDataset(StrEnum):
    articles = "articles"
    stories = "stories"
    sightings = "sightings"


@app.command("export")
def export_command(
    since: Annotated[str, typer.Option("--since", help="First day (YYYY-MM-DD), inclusive.")],
    until: Annotated[str, typer.Option("--until", help="Last day (YYYY-MM-DD), inclusive.")],
    out: Annotated[Path, typer.Option("--out", help="The dataset folder to write.")],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="File format.")
    ] = ExportFormat.jsonl,
    partition: Annotated[
        ExportPartition, typer.Option("--partition", help="One file per day or per source.")
    ] = ExportPartition.day,
    dataset: Annotated[
        ExportDataset, typer.Option("--dataset", help="What to export.")
    ] = ExportDataset.articles,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", metavar="ID", help="Only this source (repeatable)."),
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="Only articles in this language.")
    ] = None,
    body: Annotated[bool, typer.Option("--body/--no-body", help="Include article bodies.")] = True,
    at: Annotated[
        str | None,
        typer.Option("--at", help="On a DuckLake: export it as it was at this snapshot or time."),
    ] = None,
    respect_rights: Annotated[
        bool,
        typer.Option(
            "--respect-rights",
            help="Blank the body and description of articles whose publisher reserved their "
            "reuse (reuse = 'reserved'); metadata and the rights evidence stay.",
        ),
    ] = False,
    omit_reserved: Annotated[
        bool,
        typer.Option(
            "--omit-reserved",
            help="With --respect-rights: leave those articles out altogether.",
        ),
    ] = False,
) -> None:
    """A dataset folder: one file per partition, manifest.json (filters, counts,
    SHA-256 of each file, schema, the run or snapshot it reflects) and
    datasheet.md. The same export run again gives byte-identical files."""
    _warehouse_directory_exists()
    from ingest import export  # noqa: PLC0415

    settings = state.settings
    first, last = _both_dates(since, until)
    if source:
        _check_sources(settings, source)
    spec = export.ExportSpec(
        since=first,
        until=last,
        dataset=dataset.value,
        fmt=fmt.value,
        partition=partition.value,
        sources=tuple(source or ()),
        language=language,
        body=body,
        at=at,
        rights="omit" if omit_reserved else "redact" if respect_rights else "all",
    )
    if omit_reserved and not respect_rights:
        raise typer.BadParameter("--omit-reserved goes with --respect-rights")
    with clear_errors():
        done = export.export(settings.warehouse, out, spec)
    err.print(
        f"exported {done.rows:,} {dataset.value} in {len(done.files)} files to {out} "
        "(manifest.json, datasheet.md)"
    )


# --------------------------------------------------------------------------- report


@app.command("report")
def report_command(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    days: Annotated[
        int, typer.Option("--days", min=1, help="Days shown, up to the newest article.")
    ] = 30,
    at: Annotated[
        str | None,
        typer.Option("--at", help="On a DuckLake: report on it as it was at this snapshot."),
    ] = None,
) -> None:
    """One self-contained HTML file (no scripts, fonts or images from anywhere):
    articles per source and day, new stories and their sizes, who syndicates
    whom, languages, extraction outcomes, feed health and the biggest stories.
    Each run that loads articles also writes <warehouse>-reports/latest.html."""
    _warehouse_directory_exists()
    from ingest import report  # noqa: PLC0415

    with clear_errors():
        facts = report.write_report(state.settings.warehouse, out, days, at)
    err.print(
        f"wrote {out}: {facts.totals.get('articles', 0):,} articles, {facts.first} to {facts.last}"
    )


# --------------------------------------------------------------------------- warehouse


@warehouse_app.command("copy")
def warehouse_copy(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The new warehouse: ducklake:sqlite:PATH or ducklake:postgres:CONNINFO "
            "(with INGEST_DATA_PATH / --data-path), or a DuckDB file.",
        ),
    ],
    data_path: Annotated[
        str | None,
        typer.Option("--data-path", help="The new lake's data files [default: INGEST_DATA_PATH]."),
    ] = None,
) -> None:
    """Copy this DuckDB-file warehouse into a new, empty one (a DuckLake) and
    verify it: row count and content hash of every table on both sides. The
    raw page archive is copied beside it; the source is left as it was. Stop
    the runs that load the file first: what they load after the copy stays in
    the file."""
    _warehouse_directory_exists()
    settings = state.settings
    source = settings.warehouse
    if not isinstance(source, Path):
        err.print("[red]error:[/red] copy reads a DuckDB file: set --warehouse to one")
        raise typer.Exit(2)
    try:
        target = parse_warehouse(to, data_path or os.environ.get("INGEST_DATA_PATH"))
    except LocationError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    waiting = staging.pending(settings.staging_path)
    if waiting:
        err.print(
            f"[red]error:[/red] {len(waiting)} staged batches in {settings.staging_path} are "
            "not loaded yet: run `ingest run` (it loads them) before copying",
            highlight=False,
        )
        raise typer.Exit(1)
    from ingest.store import upkeep  # noqa: PLC0415

    with clear_errors():
        checks = upkeep.copy_warehouse(source, target)
    table = Table(title=f"{source} -> {location_text(target)}", header_style="bold")
    for column in ("table", "rows", "copied", "content"):
        table.add_column(column)
    for c in checks:
        table.add_row(
            c.table, str(c.rows), str(c.target_rows), "same" if c.ok else "[red]DIFFERS[/red]"
        )
    console.print(table)
    bad = [c.table for c in checks if not c.ok]
    if bad:
        err.print(
            f"[red]error:[/red] the copy differs in {', '.join(bad)}; the new warehouse "
            "holds it as copied: remove it (its catalog and data files) before copying again",
            highlight=False,
        )
        raise typer.Exit(1)
    raw_from, raw_to = settings.raw_path, replace(settings, warehouse=target).raw_path
    if raw_from.is_dir() and raw_from.resolve() != raw_to.resolve():
        shutil.copytree(raw_from, raw_to, dirs_exist_ok=True)
        err.print(f"raw page archive copied to {raw_to}", highlight=False)
    err.print(
        f"copied {sum(c.rows for c in checks)} rows in {len(checks)} tables, all verified; "
        f"use it with INGEST_WAREHOUSE={location_text(target)}"
        + (f" INGEST_DATA_PATH={target.data_path}" if isinstance(target, Lake) else ""),
        highlight=False,
    )


@warehouse_app.command("maintain")
def warehouse_maintain(
    keep_days: Annotated[
        float | None,
        typer.Option(
            "--keep-days",
            help="Expire a lake's snapshots older than this many days; 0 keeps them all "
            "[default: INGEST_SNAPSHOT_KEEP_DAYS, 30].",
        ),
    ] = None,
) -> None:
    """Keep the warehouse compact: on a DuckLake, merge small data files,
    expire old snapshots and delete the files no kept snapshot needs; on a
    DuckDB file, a checkpoint."""
    _warehouse_directory_exists()
    from ingest.store import upkeep  # noqa: PLC0415

    settings = state.settings
    keep = settings.snapshot_keep_days if keep_days is None else keep_days
    with clear_errors():
        done = upkeep.maintain(settings.warehouse, keep)
    for name, value in done.__dict__.items():
        console.print(f"{name.replace('_', ' ')}: {value}", highlight=False)


# --------------------------------------------------------------------------- status


@app.command()
def status(
    runs: Annotated[int, typer.Option(help="How many recent runs to show (with --all).")] = 5,
    show_all: Annotated[
        bool, typer.Option("--all", help="Every feed, the recent runs, the queues in full.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The status as JSON.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit 3 when an alert is open or a feed is failing, 0 when all is well."
        ),
    ] = False,
    problems: Annotated[
        bool, typer.Option("--problems", help="The open alerts with their evidence, failing feeds.")
    ] = False,
) -> None:
    """A summary that fits 80 columns: feeds ok / failing / disabled, pages
    waiting, the last run, one line per failing feed. --all for everything,
    --json for machines, --check for cron and monitoring (exit 3: a problem)."""
    _warehouse_directory_exists()
    from ingest import status as health  # noqa: PLC0415

    with clear_errors():
        found = health.gather(state.settings, runs, every_feed=show_all)
    if as_json:
        sys.stdout.write(json.dumps(found.as_json(), ensure_ascii=False, indent=1) + "\n")
    elif problems:
        for line in health.problem_lines(found, 80):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    elif not show_all:
        for line in health.summary_lines(found, 80):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    else:
        _status_all(found)
    if check and not found.healthy:
        raise typer.Exit(3)


@app.command()
def explain(
    article: Annotated[str, typer.Argument(help="An article id, or any URL that led to it.")],
    as_json: Annotated[bool, typer.Option("--json", help="The history as JSON.")] = False,
) -> None:
    """The whole history of one article row: how it was found (feed, sitemap,
    archive, URL list, WARC), its fetches and raw pages, the extractor and its
    settings, where each metadata field came from, what the publisher declared
    about its use, and every revision."""
    _warehouse_directory_exists()
    from ingest import explain as history  # noqa: PLC0415

    with clear_errors():
        found = history.explain(state.settings.warehouse, article)
    sys.stdout.write(history.as_json(found) if as_json else history.render(found))


def _status_all(found: Status) -> None:
    """Every feed, recent runs with their reasons, the queues, archive and
    staging, from the status already gathered."""

    def when(value: dt.datetime | None) -> str:
        return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M}" if value else ""

    def show(title: str, columns: list[str], rows: list[list[object]]) -> None:
        table = Table(title=title, show_header=True, header_style="bold")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)

    show(
        "feeds",
        ["source_id", "url", "last", "http", "failures", "fetched", "next_fetch", "note"],
        [[f.source_id, f.url, f.last, f.http, f.failures, when(f.fetched_at),
          when(f.next_fetch_at), f.note] for f in found.feeds],
    )  # fmt: skip
    show(
        "recent runs",
        ["run_id", "flow", "status", "started", "seconds", "new_articles", "feed_errors"],
        [[r.run_id, r.flow, r.status, when(r.started_at), r.seconds, r.new_articles,
          r.feed_errors] for r in found.runs],
    )  # fmt: skip
    for r in found.runs:
        if r.reason:
            console.print(f"run {r.run_id} {r.status}: {r.reason}", highlight=False)
    console.print(
        f"pending pages: {found.pages_queued} queued (never requested: their origin's turn "
        f"came after a run's page budget), {found.pages_to_retry} to retry after a transient "
        f"failure; {found.provisional_bodies} articles have a provisional body (the feed's "
        "text until the page comes)"
        + (f"; next attempt {when(found.next_attempt_at)} UTC" if found.next_attempt_at else ""),
        highlight=False,
    )
    keep = state.settings.raw_retention_days
    console.print(
        f"raw page archive {state.settings.raw_path}: {found.raw_pages} pages, "
        f"{found.raw_bytes / 1e6:.1f} MB (kept {'forever' if keep <= 0 else f'{keep} days'}; "
        "INGEST_RAW_RETENTION_DAYS)",
        highlight=False,
    )
    console.print(
        f"staging {state.settings.staging_path}: {found.staged_waiting} batches waiting for "
        f"the loader, {found.staged_set_aside} set aside in {staging.FAILED_DIR}/",
        highlight=False,
    )


def _print_table(title: str | None, result: read.QueryResult) -> None:
    table = Table(title=title, show_header=True, header_style="bold")
    for c in result.columns:
        table.add_column(c, overflow="fold")
    for row in result.rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


# --------------------------------------------------------------------------- sources


@sources_app.command("list")
def sources_list() -> None:
    """The sources of the registry, with their kind, domains and feeds."""
    with clear_errors():
        registry = load_registry(state.settings.sources)
    table = Table(title=f"{len(registry)} sources in {registry.origin}", header_style="bold")
    for c in ("id", "name", "kind", "country", "lang", "domains", "feeds"):
        table.add_column(c, overflow="fold")
    for s in registry:
        table.add_row(
            s.source_id,
            s.name,
            s.kind,
            s.country or "",
            s.language or "",
            ", ".join(s.domains),
            str(len(s.feeds)),
        )
    console.print(table)


@sources_app.command("enable")
def sources_enable(
    ids: Annotated[list[str], typer.Argument(help="Source ids, feed ids or feed URLs.")],
) -> None:
    """Re-enable disabled feeds (all feeds of a source, or single feeds); they are
    polled on the next run."""
    _warehouse_directory_exists()
    with clear_errors(), connection.writer(state.settings.warehouse) as con:
        enabled = store_feeds.enable_feeds(con, ids)
    for feed_id, url in enabled:
        err.print(f"enabled {feed_id} {url}", highlight=False)
    if not enabled:
        err.print("no disabled feed matched; `ingest status` lists feeds and why they stopped")
        raise typer.Exit(1)


@sources_app.command("export")
def sources_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="OPML file to write.")
    ] = None,
) -> None:
    """The registry as OPML 2.0, importable by Miniflux, FreshRSS and other readers."""
    with clear_errors():
        registry = load_registry(state.settings.sources)
    text = export_opml(registry)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {sum(len(s.feeds) for s in registry)} feeds to {output}")


# The --output of the commands that write a registry (see _registry_target).
RegistryOutput = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Registry file to write [default: the --sources file, or ./sources.toml when "
        "--sources is the shipped registry]",
    ),
]


def _registry_target(settings: Settings, output: Path | None) -> Path:
    """The registry file a command writes: ``--output``, else the ``--sources``
    file, else ./sources.toml (the shipped registry is never written)."""
    if output is not None:
        return output
    return settings.sources if settings.sources != default_sources_path() else Path("sources.toml")


@sources_app.command("add")
def sources_add(
    url: Annotated[str, typer.Argument(metavar="URL", help="The site's homepage.")],
    source_id: Annotated[
        str | None, typer.Option("--id", help="The new source's id [default: from its domain].")
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", help="publisher, wire or aggregator.")
    ] = "publisher",
    output: RegistryOutput = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what was found; write nothing.")
    ] = False,
) -> None:
    """Add a source by its homepage: its feeds (<link rel="alternate">, else
    common paths, each checked to parse as a feed) and its sitemaps (robots.txt
    Sitemap: lines). Shows what it found, then writes the entry."""
    from ingest.discover import DiscoveryError, discover  # noqa: PLC0415
    from ingest.registry import KINDS, new_source_id, write_registry  # noqa: PLC0415

    settings = state.settings
    if kind not in KINDS:
        err.print(f"[red]error:[/red] --kind {kind!r} is not one of {', '.join(KINDS)}")
        raise typer.Exit(2)
    target = _registry_target(settings, output)
    with clear_errors():
        registry = load_registry(target if target.exists() else settings.sources)
    try:
        found = asyncio.run(discover(url, settings))
    except DiscoveryError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    owner = next((s for s in registry if found.domain in s.domains), None)
    console.print(f"{found.name} ({found.domain}), {found.homepage}", markup=False)
    for feed in found.feeds:
        console.print(f"  feed    {feed}", markup=False, highlight=False)
    for sitemap in found.sitemaps:
        console.print(f"  sitemap {sitemap}", markup=False, highlight=False)
    for note in found.notes:
        err.print(f"  {note}", highlight=False)
    if owner is not None:
        err.print(f"[red]error:[/red] {found.domain} already belongs to source {owner.source_id}")
        raise typer.Exit(1)
    taken = {s.source_id for s in registry}
    new_id = source_id or new_source_id(found.domain, taken)
    if new_id in taken:
        err.print(f"[red]error:[/red] source id {new_id!r} is taken")
        raise typer.Exit(2)
    if dry_run:
        err.print(f"would add source {new_id} (--dry-run: nothing written)")
        return
    with clear_errors():
        if not target.exists():
            target.write_text(settings.sources.read_text(encoding="utf-8"), encoding="utf-8")
        write_registry(target, [*registry.sources, found.source(new_id, kind)])
    err.print(f"added source {new_id} to {target}")


@sources_app.command("import")
def sources_import(
    opml: Annotated[
        Path, typer.Argument(help="OPML file with feed outlines.", exists=True, dir_okay=False)
    ],
    output: RegistryOutput = None,
    new: Annotated[
        bool,
        typer.Option("--new", help="Start a new registry from the OPML alone (needs --output)."),
    ] = False,
    fetch: Annotated[
        bool,
        typer.Option(
            "--fetch/--no-fetch",
            help="Read the feeds whose outline names no site, to join them to the site "
            "their articles are on.",
        ),
    ] = True,
) -> None:
    """Merge an OPML file's feeds (Miniflux, FreshRSS, Feedly, Inoreader ...)
    into the registry, grouped by the domain each site owns; its categories
    become tags. The registry file keeps its comments and order."""
    from ingest.registry import Registry, write_registry  # noqa: PLC0415

    settings = state.settings
    if new and output is None:
        err.print("[red]error:[/red] --new writes a new registry: give it --output FILE")
        raise typer.Exit(2)
    if new and output is not None and output.exists():
        err.print(f"[red]error:[/red] {output} exists; --new does not overwrite a registry")
        raise typer.Exit(2)
    target = _registry_target(settings, output)
    with clear_errors():
        if new:
            existing = Registry((), "new", "")
        else:
            existing = load_registry(target if target.exists() else settings.sources)
        data = opml.read_bytes()
        sites: dict[str, str] = {}
        unnamed = [url for url, site in opml_feeds(data) if site is None and url]
        if fetch and unnamed:
            from ingest.discover import article_sites  # noqa: PLC0415

            sites = asyncio.run(article_sites(unnamed, settings))
        merged, notes = import_opml(data, existing, sites)
        if not new and not target.exists():
            target.write_text(settings.sources.read_text(encoding="utf-8"), encoding="utf-8")
        write_registry(target, merged)
    for note in notes:
        err.print(f"  {note}", highlight=False)
    added = len(merged) - len(existing)
    err.print(f"wrote {len(merged)} sources ({added} new) to {target}")
    if target != settings.sources:
        err.print(f"use it with: --sources {target}  (or INGEST_SOURCES={target})")


# --------------------------------------------------------------------------- demo


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo warehouse goes.")] = Path(".demo"),
) -> None:
    """Serve the bundled sample news site on loopback, ingest it twice, show queries."""
    from flows.tempserver import temporary_server  # noqa: PLC0415

    from ingest.demo.runner import run_demo  # noqa: PLC0415

    def run_pass(settings: Settings) -> dict[str, int]:
        return _run_flow("demo run", "ingest_feeds", bar=False, settings=settings, all_feeds=True)

    with temporary_server():  # one server for both passes
        code = run_demo(workdir, console, run_pass, state.settings)
    raise typer.Exit(code)


# Prefect's local server sends a telemetry heartbeat; it is pointless here
# (and logs a traceback when it races the ephemeral server's SQLite file).
# The user's own setting wins.
# A temporary server's first start migrates a new database: on a busy machine
# it can take longer than Prefect's 20 s, which would fail the run.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def main() -> None:
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    app()


if __name__ == "__main__":
    main()
