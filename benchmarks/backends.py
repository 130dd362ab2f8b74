"""Warehouse backends side by side: the same ``ingest run`` into a DuckDB
file, a DuckLake with a SQLite catalog and a DuckLake with a PostgreSQL
catalog (a throwaway cluster on a Unix socket), on one synthetic news web
served on 127.0.0.1.

For each backend: the load rate (articles/s after start-up, from the ``runs``
table) and, while the load runs, a thread running
``ingest.store.read.query(W, "SELECT count(*) FROM articles")`` in a loop
(latency of every query, failed ones included; errors counted: on the file
a reader waits for the writer's lock, and gives up after ``--query-wait``).
Ratios are against the file backend of the same run. The warehouses must
hold the same articles at the end, or the script exits 1.

    python benchmarks/backends.py --articles 1000 --sources 100 [--skip-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
for _path in (_HERE, _HERE.parent):  # e2e and newsweb; tests.pgcluster
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from e2e import (  # noqa: E402
    DEFAULT_ARTICLES,
    DEFAULT_SOURCES,
    NOT_SAVED,
    RUN_TIMEOUT_BASE,
    RUN_TIMEOUT_PER_ARTICLE,
    IngestRun,
    ingest_environment,
    init_prefect_home,
    pipeline_settings,
    result_stem,
    run_ingest,
    stop_on_sigterm,
)
from ingest.location import Lake, data_path_of, location_text, parse_warehouse  # noqa: E402
from ingest.settings import Settings  # noqa: E402
from ingest.store import connection, read  # noqa: E402
from ingest.store.connection import WarehouseBusy, WarehouseError  # noqa: E402
from newsweb import LOOPBACK, NewsWeb, NewsWebServer  # noqa: E402

TARGET = 0.8  # a lake's rate / the file's
COUNT = "SELECT count(*) FROM articles"
LAST_RUN = (
    "SELECT r.run_id, r.status, epoch(r.finished_at) - epoch(r.started_at), "
    "(SELECT count(*) FROM articles a WHERE a.run_id = r.run_id) "
    "FROM runs r ORDER BY r.started_at DESC LIMIT 1"
)
# Same rows, whatever the backend: one digest over what identifies an article.
CONTENT = (
    "SELECT count(*), md5(coalesce(string_agg(canonical_url || '|' || content_hash || '|' "
    "|| coalesce(wire_service, ''), ',' ORDER BY canonical_url), '')) FROM articles"
)


class QueryLoop(threading.Thread):
    """Reads the warehouse over and over while a load runs. Until the first
    query succeeds the warehouse may not exist yet: such errors are not
    counted, but a busy warehouse (the file's lock) always is."""

    def __init__(self, where: Path | Lake, wait: float, pause: float) -> None:
        super().__init__(daemon=True)
        self.where, self.wait, self.pause = where, wait, pause
        self.stop = threading.Event()
        self.took: list[float] = []
        self.errors: list[str] = []
        self.ready = False

    def run(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                read.query(self.where, COUNT, wait=self.wait)
                self.ready = True
            except WarehouseError as exc:
                if self.ready or isinstance(exc, WarehouseBusy):
                    self.errors.append(str(exc))
                else:
                    self.stop.wait(self.pause)
                    continue
            self.took.append(time.monotonic() - began)
            self.stop.wait(self.pause)


@dataclass
class Outcome:
    backend: str
    where: str
    run: IngestRun | None = None
    status: str | None = None
    run_s: float | None = None  # runs.started_at to runs.finished_at
    articles_loaded: int = 0
    rate: float | None = None
    articles: int | None = None  # at the end
    digest: str | None = None
    query_ms: list[float] = field(default_factory=list)
    query_errors: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.run is not None
            and self.run.returncode == 0
            and self.status == "completed"
        )

    def figures(self) -> dict[str, float | None]:
        ms = sorted(self.query_ms)
        return {
            "run_s": self.run_s,
            "wall_s": self.run.wall_s if self.run else None,
            "startup_s": self.run.startup_s if self.run else None,
            "articles_loaded": float(self.articles_loaded),
            "rate": self.rate,
            "query_median_ms": statistics.median(ms) if ms else None,
            "query_max_ms": ms[-1] if ms else None,
            "queries": float(len(ms)),
            "query_errors": float(len(self.query_errors)),
            "tree_rss_peak_mb": self.run.tree_rss_peak_mb if self.run else None,
        }


def load_one(
    name: str,
    settings: Settings,
    registry: Path,
    env: Mapping[str, str],
    *,
    timeout: float,
    query_wait: float,
    query_pause: float,
    say: Callable[[str], None],
) -> Outcome:
    """One ``ingest run --all-feeds`` into ``settings.warehouse`` with the query loop."""
    where = settings.warehouse
    out = Outcome(name, where.describe() if isinstance(where, Lake) else str(where))
    run_env = {k: v for k, v in env.items() if k != "INGEST_DATA_PATH"}
    if (data := data_path_of(where)) is not None:
        run_env["INGEST_DATA_PATH"] = data
    # made before the timed run, as a file warehouse exists before it: its
    # creation (migrations; a lake's catalog) is start-up, not load
    with connection.writer(where):
        pass
    connection.close_lakes()
    loop = QueryLoop(where, query_wait, query_pause)
    say(f"{name}: ingest run --all-feeds into {out.where} ...")
    loop.start()
    try:
        # run_ingest passes str() of its warehouse to --warehouse: a lake's URI
        # goes through as a Path; the run's figures are read back below.
        out.run = run_ingest(Path(location_text(where)), registry, run_env, timeout=timeout)
    finally:
        loop.stop.set()
        loop.join(timeout=query_wait + 60)
    out.query_ms = [t * 1000 for t in loop.took]
    out.query_errors = loop.errors
    try:
        row = read.query(where, LAST_RUN).rows[0]
        out.status, out.run_s, out.articles_loaded = row[1], row[2], int(row[3])
        out.rate = out.articles_loaded / out.run_s if out.run_s else None
        out.articles, out.digest = read.query(where, CONTENT).rows[0]
    except (WarehouseError, IndexError) as exc:
        out.error = f"reading the warehouse back: {exc}"
    if not out.ok:
        log = Path(tempfile.gettempdir()) / f"ingest-backends-{name}.log"
        if out.run is not None:
            out.run.save_log(log)
        say(
            f"{name}: FAILED ({out.error or f'exit {out.run and out.run.returncode}'}), "
            f"status {out.status}; log {log}; its last lines:"
        )
        say("  " + "\n  ".join(out.run.log_tail if out.run else []))
    return out


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def report(outcomes: Sequence[Outcome], expected: int, say: Callable[[str], None]) -> bool:
    """The table, the article counts and the verdict; True if the rows agree."""
    base = next((o.rate for o in outcomes if o.backend == "file"), None)
    say("")
    say(
        f"  {'backend':<16} {'s':>7} {'articles/s':>11} {'ratio':>6} {'q median ms':>12} "
        f"{'q max ms':>9} {'queries':>8} {'q errors':>9}"
    )
    for o in outcomes:
        f = o.figures()
        ratio = o.rate / base if o.rate and base else None
        say(
            f"  {o.backend:<16} {'-' if o.run_s is None else f'{o.run_s:.1f}':>7} "
            f"{'-' if o.rate is None else f'{o.rate:.1f}':>11} "
            f"{'-' if ratio is None else f'{ratio:.3f}':>6} "
            f"{_ms(f['query_median_ms']):>12} {_ms(f['query_max_ms']):>9} "
            f"{f['queries']:>8.0f} {f['query_errors']:>9.0f}"
        )
    for o in outcomes:
        if o.query_errors:
            say(
                f"  {o.backend} query error, first of {len(o.query_errors)}: "
                f"{o.query_errors[0][:200]}"
            )
    say("")
    say(
        f"articles at the end (the web holds {expected}): "
        + ", ".join(
            f"{o.backend} {o.articles if o.articles is not None else '-'}" for o in outcomes
        )
    )
    counts = {o.articles for o in outcomes}
    digests = {o.digest for o in outcomes}
    same = len(counts) == 1 and None not in counts and len(digests) == 1
    if len(counts) != 1 or None in counts:
        say("  the article counts DIFFER")
    elif len(digests) != 1:
        say("  equal counts, but the articles DIFFER (url, content hash, wire credit)")
    else:
        say("  equal: same articles (url, content hash, wire credit) in every warehouse")
    verdicts = []
    for o in outcomes:
        if o.backend == "file":
            continue
        if o.rate is None or not base:
            verdicts.append(f"{o.backend}: no rate")
            continue
        ratio = o.rate / base
        verdict = "within 20%" if ratio >= TARGET else "NOT within 20%"
        verdicts.append(f"{o.backend} {ratio:.3f} ({verdict})")
    say(f"lake end-to-end rate / file's (target >= {TARGET}): " + "; ".join(verdicts))
    return same


def run_backends(
    articles: int,
    sources: int,
    *,
    skip_postgres: bool = False,
    results_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    query_wait: float = 5.0,
    query_pause: float = 1.0,
    quiet: bool = False,
) -> tuple[list[Outcome], bool]:
    """Every backend once on the same web; the outcomes, and whether the
    warehouses hold the same articles (and every load completed)."""
    say: Callable[[str], None] = (lambda _s: None) if quiet else print
    web = NewsWeb(articles, sources)
    workdir = Path(tempfile.mkdtemp(prefix="ingest-backends-"))
    cluster: Any = None
    outcomes: list[Outcome] = []
    try:
        with NewsWebServer(web) as server:
            registry = workdir / "sources.toml"
            registry.write_text(web.sources_toml(), encoding="utf-8")
            home = workdir / "prefect-home"
            run_env = ingest_environment(server, home, env or {})
            say(f"serving {articles} articles from {sources} sources on {LOOPBACK}:{server.port}")
            init_prefect_home(home, run_env)
            web.prerender()
            base = Settings.from_env(run_env)
            backends: list[tuple[str, Callable[[], Path | Lake]]] = [
                ("file", lambda: workdir / "file" / "news.duckdb"),
                (
                    "ducklake-sqlite",
                    lambda: parse_warehouse(f"ducklake:sqlite:{workdir}/sqlite/news.sqlite"),
                ),
            ]
            if not skip_postgres:

                def postgres() -> Lake:
                    nonlocal cluster
                    from tests.pgcluster import Cluster

                    cluster = Cluster().start()
                    conninfo = cluster.create_database("news")
                    return Lake("postgres", conninfo, f"{workdir}/postgres/data/")

                backends.append(("ducklake-postgres", postgres))
            timeout = RUN_TIMEOUT_BASE + RUN_TIMEOUT_PER_ARTICLE * articles
            for name, make in backends:
                try:
                    where = make()
                except Exception as exc:  # e.g. PostgreSQL not installed
                    say(f"{name}: not run: {type(exc).__name__}: {exc}")
                    outcomes.append(Outcome(name, "-", error=f"{type(exc).__name__}: {exc}"))
                    continue
                outcomes.append(
                    load_one(
                        name,
                        replace(base, warehouse=where),
                        registry,
                        run_env,
                        timeout=timeout,
                        query_wait=query_wait,
                        query_pause=query_pause,
                        say=say,
                    )
                )
        same = report(outcomes, web.expected()["articles"], say) and all(o.ok for o in outcomes)
        if results_dir is not None:
            file_rate = next((o.rate for o in outcomes if o.backend == "file"), None)
            results_dir.mkdir(parents=True, exist_ok=True)
            path = results_dir / (
                "backends" + result_stem(articles, sources).removeprefix("e2e") + ".json"
            )
            document = {
                "benchmark": "backends",
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "load1_at_end": os.getloadavg()[0],
                },
                "commit": subprocess.run(
                    ["git", "-C", str(_HERE.parent), "rev-parse", "--short", "HEAD"],
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout.strip(),
                "web": web.expected() | {"seed": web.seed},
                "pipeline_settings": pipeline_settings(run_env),
                "env_overrides": dict(env or {}),
                "query": {"sql": COUNT, "wait_s": query_wait, "pause_s": query_pause},
                "same_articles": same,
                "backends": {
                    o.backend: {
                        "where": o.where,
                        "ok": o.ok,
                        "status": o.status,
                        "error": o.error,
                        "articles": o.articles,
                        "digest": o.digest,
                        "figures": o.figures(),
                        "ratio_to_file": o.rate / file_rate if o.rate and file_rate else None,
                        "query_errors_first": o.query_errors[:3],
                        "run": {k: v for k, v in asdict(o.run).items() if k not in NOT_SAVED}
                        if o.run
                        else None,
                    }
                    for o in outcomes
                },
            }
            path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
            say(f"\nresults: {path}")
        return outcomes, same
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=DEFAULT_ARTICLES)
    parser.add_argument("--sources", type=int, default=DEFAULT_SOURCES)
    parser.add_argument("--skip-postgres", action="store_true", help="file and SQLite lake only")
    parser.add_argument("--results-dir", type=Path, default=None, help="write the JSON here")
    parser.add_argument(
        "--query-wait", type=float, default=5.0, help="a query's wait for the lock (s)"
    )
    parser.add_argument("--query-pause", type=float, default=1.0, help="pause between queries (s)")
    parser.add_argument(
        "--host-gap", type=float, default=None, help="INGEST_HOST_GAP for the ingest runs"
    )
    args = parser.parse_args(argv)
    env = {} if args.host_gap is None else {"INGEST_HOST_GAP": f"{args.host_gap:g}"}
    stop_on_sigterm()
    _outcomes, same = run_backends(
        args.articles,
        args.sources,
        skip_postgres=args.skip_postgres,
        results_dir=args.results_dir,
        env=env,
        query_wait=args.query_wait,
        query_pause=args.query_pause,
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
