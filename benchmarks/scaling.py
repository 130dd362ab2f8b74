"""Scaling series: one ``ingest run --all-feeds`` per web size, fresh warehouse each.

For N = 1k, 5k, 20k articles (``--sizes``) on S sources, prints the time per
article (after start-up and wall) and the peak memory of the ``ingest``
process tree, and writes ``benchmarks/results/scaling[-quick][-s<S>].json``
(after every size, so a run stopped half-way keeps what it measured).

    python benchmarks/scaling.py [--sizes 1000,5000,20000] [--quick] [--sources 20]

``--quick`` runs 250, 1000 and 2500 articles (a couple of minutes on 2 cores);
the full series takes 10 minutes or more, mostly the 20k run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from e2e import (  # noqa: E402
    DEFAULT_SOURCES,
    NOT_SAVED,
    RESULTS_DIR,
    ROOT,
    RUN_TIMEOUT_BASE,
    RUN_TIMEOUT_PER_ARTICLE,
    IngestRun,
    _env_pairs,
    _git_state,
    ingest_environment,
    init_prefect_home,
    pipeline_settings,
    politeness_floor,
    run_ingest,
    stop_on_sigterm,
    task_summary,
)
from newsweb import NewsWeb, NewsWebServer  # noqa: E402

FULL_SIZES = (1000, 5000, 20000)
QUICK_SIZES = (250, 1000, 2500)


def one_size(
    articles: int,
    sources: int,
    workdir: Path,
    prefect_home: Path,
    env: Mapping[str, str],
    *,
    with_304: bool,
    results_dir: Path,
) -> dict[str, Any]:
    web = NewsWeb(articles, sources)
    web.prerender()  # the page server's CPU is not the pipeline's
    with NewsWebServer(web) as server:
        registry = workdir / f"sources-{articles}.toml"
        registry.write_text(web.sources_toml(), encoding="utf-8")
        warehouse = workdir / f"warehouse-{articles}.duckdb"
        run_env = ingest_environment(server, prefect_home, env)
        settings = pipeline_settings(run_env)
        timeout = RUN_TIMEOUT_BASE + RUN_TIMEOUT_PER_ARTICLE * articles
        first = run_ingest(warehouse, registry, run_env, timeout=timeout)
        second: IngestRun | None = None
        if with_304:
            second = run_ingest(warehouse, registry, run_env, timeout=timeout)
    if not first.ok:
        saved = first.save_log(results_dir / f"scaling-{articles}-failed.log")
        print(f"  ingest run failed (full log: {saved}); its last lines:")
        print("    " + "\n    ".join(first.log_tail))
    loaded = first.articles_loaded
    result: dict[str, Any] = {
        "articles": articles,
        "sources": sources,
        "feeds": len(web.feeds),
        "loaded": loaded,
        "status": first.status,
        "wall_s": first.wall_s,
        "run_s": first.run_s,
        "startup_s": first.startup_s,
        "ms_per_article": 1000 * first.run_s / loaded if first.run_s and loaded else None,
        "ms_per_article_wall": 1000 * first.wall_s / loaded if loaded else None,
        "articles_per_s": loaded / first.run_s if first.run_s else None,
        "maxrss_mb": first.maxrss_mb,
        "tree_rss_peak_mb": first.tree_rss_peak_mb,
        "politeness_floor_s": politeness_floor(web, settings),
        "page_errors": sum(v for k, v in first.counts.items() if k.startswith("page_error")),
        "bodies_from_feed": sum(
            v for k, v in first.counts.items() if k.startswith("body_") and "feed" in k
        ),
        "counts": first.counts,
        "run": {k: v for k, v in asdict(first).items() if k not in NOT_SAVED and k != "tasks"},
        "tasks": task_summary(first.tasks),
        "settings": settings,
    }
    if second is not None:
        result["run2_s"] = second.run_s
        result["run2_wall_s"] = second.wall_s
    for path in (warehouse, registry):
        path.unlink(missing_ok=True)
    # The pipeline's raw page archive (<warehouse stem>-raw/ by default).
    shutil.rmtree(warehouse.parent / f"{warehouse.stem}-raw", ignore_errors=True)
    return result


def _cell(value: object, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def print_table(rows: Sequence[Mapping[str, Any]]) -> None:
    header = (
        f"{'articles':>8} {'loaded':>7} {'feeds':>5} {'wall s':>8} {'work s':>8} "
        f"{'ms/art':>7} {'ms/art wall':>11} {'art/s':>7} {'floor s':>8} "
        f"{'RSS main MB':>11} {'RSS tree MB':>11} {'page err':>8} {'feed body':>9}"
    )
    if any("run2_s" in r for r in rows):
        header += f" {'304 run s':>9}"
    print(header)
    base = rows[0].get("ms_per_article") if rows else None
    for r in rows:
        line = (
            f"{r['articles']:>8} {r['loaded']:>7} {r['feeds']:>5} {_cell(r['wall_s']):>8} "
            f"{_cell(r['run_s']):>8} {_cell(r['ms_per_article'], 2):>7} "
            f"{_cell(r['ms_per_article_wall'], 2):>11} {_cell(r['articles_per_s']):>7} "
            f"{_cell(r['politeness_floor_s']):>8} {_cell(r['maxrss_mb'], 0):>11} "
            f"{_cell(r['tree_rss_peak_mb'], 0):>11} {r['page_errors']:>8} "
            f"{r['bodies_from_feed']:>9}"
        )
        if "run2_s" in r:
            line += f" {_cell(r['run2_s'], 2):>9}"
        print(line)
    if base and len(rows) > 1 and rows[-1].get("ms_per_article"):
        print(
            f"time per article (after start-up), largest / smallest size: "
            f"{rows[-1]['ms_per_article'] / base:.2f} (1.00 = linear scaling)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=None, help="comma list of article counts")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    parser.add_argument("--sources", type=int, default=DEFAULT_SOURCES)
    parser.add_argument("--host-gap", type=float, default=None, help="INGEST_HOST_GAP for ingest")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--with-304", action="store_true", help="also time a second run (all feeds 304)"
    )
    parser.add_argument("--prefect-home", type=Path, default=None)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(",") if s.strip())
    else:
        sizes = QUICK_SIZES if args.quick else FULL_SIZES
    env = _env_pairs(args.env)
    if args.host_gap is not None:
        env["INGEST_HOST_GAP"] = f"{args.host_gap:g}"
    args.results_dir.mkdir(parents=True, exist_ok=True)
    name = "scaling-quick" if args.quick and not args.sizes else "scaling"
    name += ("" if args.sources == DEFAULT_SOURCES else f"-s{args.sources}") + ".json"
    path = args.results_dir / name
    workdir = Path(tempfile.mkdtemp(prefix="ingest-scaling-"))
    rows: list[dict[str, Any]] = []

    def save(complete: bool) -> None:
        """Written after every size, so a run stopped half-way keeps what it measured."""
        document = {
            "benchmark": "scaling",
            "complete": complete,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "git": _git_state(),
            "env_overrides": env,
            "sizes": list(sizes),
            "rows": rows,
        }
        path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")

    stop_on_sigterm()
    try:
        home = args.prefect_home or workdir / "prefect-home"
        if args.prefect_home is None:
            init_prefect_home(home, {**os.environ, "PREFECT_HOME": str(home)})
        for size in sizes:
            print(
                f"ingest run --all-feeds: {size} articles, {args.sources} sources ...", flush=True
            )
            rows.append(
                one_size(
                    size,
                    args.sources,
                    workdir,
                    home,
                    env,
                    with_304=args.with_304,
                    results_dir=args.results_dir,
                )
            )
            save(complete=len(rows) == len(sizes))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if rows:
            print()
            print_table(rows)
            print(
                "ms/art: run time after start-up (runs table) per loaded article; floor s: least "
                "time allowed by the per-host request gap; RSS main: largest single process "
                "(sampled VmHWM); RSS tree: sampled peak sum over the ingest process tree; "
                "page err: page fetches that failed; feed body: articles whose body is the "
                "feed's text instead of the page's"
            )
            print(f"results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    failed = [r for r in rows if r["loaded"] != r["articles"] or r["status"] != "completed"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
