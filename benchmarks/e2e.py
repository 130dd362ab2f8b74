"""End-to-end benchmark: the real ``ingest run`` against a synthetic news web.

One invocation serves one :class:`newsweb.NewsWeb` on 127.0.0.1 and measures,
on the same pages:

1. ``ingest run --all-feeds`` as a subprocess (the real CLI, Prefect in
   ephemeral mode): wall time from a cold process, and the time after
   start-up (``runs.started_at`` to ``runs.finished_at`` in the warehouse);
2. a naive baseline written the obvious way: sequential ``feedparser.parse``,
   ``httpx.get`` of each link, ``trafilatura.extract`` with the pipeline's
   settings and one DuckDB INSERT per row;
3. the extraction limit: ``ingest.extract.extract_page`` over the same HTML in
   memory, on one process and on every core (spawned process pool);
4. a second ``ingest run --all-feeds`` on the same warehouse, where every
   feed answers 304.

The machine is shared and noisy, so the figures that matter are the ratios
between measurements of the same run. Results go to
``benchmarks/results/e2e-<N>.json`` (``e2e-<N>-s<S>.json`` for S other than 20).

    python benchmarks/e2e.py --articles 1000 --sources 20 [--skip-naive]

Importable: ``run_benchmark(articles, sources, skip_naive=False)`` returns the
flat metrics (a smoke test can run it with 40 articles).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from newsweb import LOOPBACK, NewsWeb, NewsWebServer, loopback  # noqa: E402

ROOT = _HERE.parent
BIN = Path(sys.executable).parent
RESULTS_DIR = _HERE / "results"
TARGETS = {
    "ratio_e2e_vs_extract_limit": (">=", 0.8),
    "ratio_e2e_vs_naive": (">=", 3.0),
    "ratio_second_vs_first": ("<=", 0.05),
}
# Seconds an ``ingest run`` may take before it is killed: generous, but bounded.
RUN_TIMEOUT_BASE = 300.0
RUN_TIMEOUT_PER_ARTICLE = 0.25
NAIVE_TIMEOUT_PER_REQUEST = 30.0
DEFAULT_ARTICLES = 1000
DEFAULT_SOURCES = 20
EXTRACT_SAMPLE = 2000  # extraction-limit pages held in memory at most
NOT_SAVED = frozenset({"log", "log_tail"})  # IngestRun fields left out of the JSON
TASK_FINISHED = re.compile(r"Task run '(.+?)-[0-9a-f]{3,}' - Finished in state (\w+)")


# ---------------------------------------------------------------------------
# Running ``ingest`` as a subprocess
# ---------------------------------------------------------------------------


@dataclass
class IngestRun:
    """One ``ingest run`` subprocess: timings from outside and from the warehouse."""

    returncode: int
    wall_s: float  # process start to exit
    startup_s: float | None  # process start to Prefect's "Beginning flow run"
    flow_s: float | None  # "Beginning flow run" to the flow's "Finished in state"
    run_s: float | None  # runs.started_at to runs.finished_at (the pipeline's own work)
    pre_run_s: float | None  # process start to runs.started_at
    post_run_s: float | None  # runs.finished_at to process exit
    run_id: str | None
    status: str | None
    counts: dict[str, int]
    articles_loaded: int  # articles whose run_id is this run
    maxrss_mb: float  # largest single process of the tree (sampled VmHWM; wait4 ru_maxrss if none)
    tree_rss_peak_mb: float  # sampled peak of the whole process tree (main + workers)
    # (task, state, seconds after "Beginning flow run") of every task that finished
    tasks: list[tuple[str, str, float]] = field(default_factory=list)
    log_tail: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # every line, "+seconds | text"

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.status == "completed"

    def save_log(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.log) + "\n", encoding="utf-8")
        return path


def prefect_environment(prefect_home: Path) -> dict[str, str]:
    return {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }


def init_prefect_home(prefect_home: Path, env: Mapping[str, str]) -> float:
    """Create and migrate a Prefect home's database, so that a timed run measures an
    ordinary cold start rather than the first start ever. Returns seconds taken."""
    prefect_home.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run(
        [str(BIN / "prefect"), "server", "database", "upgrade", "-y"],
        env=dict(env),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return time.monotonic() - started


def _tree_memory(root: int) -> tuple[int, int]:
    """(resident bytes of ``root`` and all its descendants, the largest
    high-water mark of one of them) from Linux /proc. The high-water mark
    (VmHWM) starts afresh at exec, unlike ``ru_maxrss``, which keeps what a
    child had when it was forked from a large parent."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total = largest = 0
    todo = [root]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * page
            with open(f"/proc/{pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmHWM:"):
                        largest = max(largest, int(line.split()[1]) * 1024)
        except (OSError, ValueError, IndexError):
            pass
        todo.extend(children.get(pid, ()))
    return total, largest


def _warehouse_run(warehouse: Path, run_id: str | None = None) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        where = "WHERE run_id = ?" if run_id else ""
        row = con.execute(
            f"SELECT run_id, started_at, finished_at, status, counts FROM runs {where} "
            "ORDER BY started_at DESC LIMIT 1",
            [run_id] if run_id else [],
        ).fetchone()
        if row is None:
            return {}
        loaded = con.execute("SELECT count(*) FROM articles WHERE run_id = ?", [row[0]]).fetchone()
        counts = row[4]
        return {
            "run_id": row[0],
            "started_at": row[1],
            "finished_at": row[2],
            "status": row[3],
            "counts": json.loads(counts) if isinstance(counts, str) else (counts or {}),
            "articles_loaded": int(loaded[0]) if loaded else 0,
        }
    finally:
        con.close()


def run_ingest(
    warehouse: Path,
    sources: Path,
    env: Mapping[str, str],
    *,
    timeout: float,
    sample_rss: bool = True,
) -> IngestRun:
    """``ingest --warehouse W --sources S run --all-feeds`` as a subprocess, timed."""
    cmd = [
        str(BIN / "ingest"),
        "--warehouse",
        str(warehouse),
        "--sources",
        str(sources),
        "run",
        "--all-feeds",
    ]
    launched_wall = time.time()
    launched = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # one process group: a timeout ends the workers too
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    lines: list[tuple[float, str]] = []
    peak = [0]
    hwm = [0]  # largest VmHWM of one process in the tree
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic() - launched, line.rstrip("\n")))

    def sample() -> None:
        while not done.wait(0.2):
            with contextlib.suppress(OSError):
                tree, largest = _tree_memory(proc.pid)
                peak[0] = max(peak[0], tree)
                hwm[0] = max(hwm[0], largest)

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sampler = threading.Thread(target=sample, daemon=True)
    if sample_rss and sys.platform.startswith("linux"):
        sampler.start()
    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    try:
        _pid, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        # Stopped ourselves (Ctrl-C, SIGTERM): take the run's whole process group along.
        kill()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(proc.pid, 0)
        raise
    finally:
        watchdog.cancel()
        done.set()
    exited = time.monotonic()
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(timeout=10)
    if sampler.is_alive():
        sampler.join(timeout=2)
    wall = exited - launched
    begin = next((t for t, text in lines if "Beginning flow run" in text), None)
    finish = next(
        (t for t, text in lines if "Flow run" in text and "Finished in state" in text), None
    )
    tasks = [
        (m.group(1), m.group(2), t - (begin or 0.0))
        for t, text in lines
        if (m := TASK_FINISHED.search(text)) is not None
    ]
    info = _warehouse_run(warehouse) if warehouse.exists() else {}
    started_at: datetime | None = info.get("started_at")
    finished_at: datetime | None = info.get("finished_at")
    run_s = pre = post = None
    if started_at is not None and finished_at is not None:
        run_s = (finished_at - started_at).total_seconds()
        pre = started_at.timestamp() - launched_wall
        post = launched_wall + wall - finished_at.timestamp()
    maxrss_kb = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss // 1024
    if hwm[0]:
        maxrss_kb = hwm[0] // 1024
    return IngestRun(
        returncode=proc.returncode,
        wall_s=wall,
        startup_s=begin,
        flow_s=(finish - begin) if begin is not None and finish is not None else None,
        run_s=run_s,
        pre_run_s=pre,
        post_run_s=post,
        run_id=info.get("run_id"),
        status=info.get("status"),
        counts=dict(info.get("counts") or {}),
        articles_loaded=int(info.get("articles_loaded") or 0),
        maxrss_mb=maxrss_kb / 1024,
        tree_rss_peak_mb=peak[0] / 2**20,
        tasks=tasks,
        log_tail=[text for _t, text in lines[-15:]],
        log=[f"+{t:8.2f} | {text}" for t, text in lines],
    )


def ingest_environment(
    server: NewsWebServer, prefect_home: Path, extra: Mapping[str, str]
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(prefect_environment(prefect_home))
    env.update(server.environment())
    env.update(extra)
    return env


def result_stem(articles: int, sources: int) -> str:
    """``e2e-<N>``, with ``-s<S>`` when S is not the default 20: runs of other
    shapes must not overwrite the default one's results."""
    return f"e2e-{articles}" + ("" if sources == DEFAULT_SOURCES else f"-s{sources}")


def stop_on_sigterm() -> None:
    """SIGTERM ends the benchmark like Ctrl-C: ``finally`` blocks stop the ``ingest``
    process group, the server and remove the work directory."""

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def pipeline_settings(env: Mapping[str, str]) -> dict[str, float]:
    """The politeness and extraction settings the ``ingest`` subprocess will use."""
    from ingest.settings import Settings

    settings = Settings.from_env(env)
    out: dict[str, float] = {}
    for name in (
        "per_host_connections",
        "host_gap_seconds",
        "max_connections",
        "extract_workers",
        "feed_batch_size",
        "max_items_per_feed",
    ):
        value = getattr(settings, name, None)
        if isinstance(value, int | float):
            out[name] = float(value)
    return out


def politeness_floor(web: NewsWeb, settings: Mapping[str, float]) -> float:
    """Least time the first run can take when every origin's requests must start
    ``host_gap_seconds`` apart: the busiest origin's requests times the gap."""
    gap = settings.get("host_gap_seconds", 0.0)
    if gap <= 0:
        return 0.0
    per_host = [1 + sum(1 for f in web.feeds if f.source == s.index) for s in web.sources]
    for art in web.articles:
        per_host[art.source] += 1
    return max(per_host) * gap


# ---------------------------------------------------------------------------
# Warehouse checks
# ---------------------------------------------------------------------------


def warehouse_facts(warehouse: Path, run_ids: Sequence[str | None]) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:

        def one(sql: str, params: Sequence[object] = ()) -> Any:
            row = con.execute(sql, list(params)).fetchone()
            return row[0] if row else None

        facts: dict[str, Any] = {
            "articles": one("SELECT count(*) FROM articles"),
            "articles_wire_credited": one(
                "SELECT count(*) FROM articles WHERE wire_service IS NOT NULL"
            ),
            "clusters_multi": one("SELECT count(*) FROM clusters WHERE size > 1"),
            "clusters_multi_members": one(
                "SELECT coalesce(sum(size), 0) FROM clusters WHERE size > 1"
            ),
            "extractors": dict(
                con.execute(
                    "SELECT split_part(extractor, '-', 1), count(*) FROM articles GROUP BY 1"
                ).fetchall()
            ),
            "runs": [],
        }
        for run_id in run_ids:
            if run_id is None:
                continue
            fetches = con.execute(
                "SELECT kind, outcome, count(*) FROM fetch_log WHERE run_id = ? "
                "GROUP BY ALL ORDER BY ALL",
                [run_id],
            ).fetchall()
            rejects = con.execute(
                "SELECT stage, left(reason, 120), count(*) FROM rejects WHERE run_id = ? "
                "GROUP BY ALL ORDER BY 3 DESC LIMIT 10",
                [run_id],
            ).fetchall()
            errors = con.execute(
                "SELECT kind, outcome, left(coalesce(error, ''), 120), count(*) FROM fetch_log "
                "WHERE run_id = ? AND outcome NOT IN ('ok', 'not_modified') "
                "GROUP BY ALL ORDER BY 4 DESC LIMIT 10",
                [run_id],
            ).fetchall()
            facts["runs"].append(
                {
                    "run_id": run_id,
                    "fetches": {f"{k}_{o}": int(n) for k, o, n in fetches},
                    "fetch_errors": [
                        {"kind": k, "outcome": o, "error": e, "n": int(n)} for k, o, e, n in errors
                    ],
                    "rejects": [{"stage": s, "reason": r, "n": int(n)} for s, r, n in rejects],
                }
            )
        return facts
    finally:
        con.close()


def checks(
    web: NewsWeb, facts: Mapping[str, Any], first: IngestRun, second: IngestRun | None
) -> dict[str, dict[str, Any]]:
    """What the warehouse should hold after the runs, against what it holds."""
    exp = web.expected()
    out: dict[str, dict[str, Any]] = {}

    def check(name: str, expected: object, actual: object) -> None:
        out[name] = {"expected": expected, "actual": actual, "ok": expected == actual}

    check("run1 completed", "completed", first.status)
    check("articles (one row per publication)", exp["articles"], facts.get("articles"))
    check("articles loaded by run 1", exp["articles"], first.articles_loaded)
    check(
        "bodies extracted from the page",
        exp["articles"],
        (facts.get("extractors") or {}).get("trafilatura", 0),
    )
    check("wire-credited copies", exp["syndicated_copies"], facts.get("articles_wire_credited"))
    check("clusters with copies", exp["wire_originals_copied"], facts.get("clusters_multi"))
    check(
        "articles in those clusters",
        exp["wire_originals_copied"] + exp["syndicated_copies"],
        facts.get("clusters_multi_members"),
    )
    runs = facts.get("runs") or []
    if runs:
        f1 = runs[0]["fetches"]
        check("run1 feeds fetched ok", exp["feeds"], f1.get("feed_ok", 0))
        pages_bad = sum(v for k, v in f1.items() if k.startswith("page_") and k != "page_ok")
        check("run1 page fetches not ok", 0, pages_bad)
        check("run1 rejects", 0, sum(r["n"] for r in runs[0]["rejects"]))
    if second is not None:
        check("run2 completed", "completed", second.status)
        check("run2 articles loaded", 0, second.articles_loaded)
        if len(runs) > 1:
            f2 = runs[1]["fetches"]
            check("run2 feeds answered 304", exp["feeds"], f2.get("feed_not_modified", 0))
            check(
                "run2 other fetches",
                0,
                sum(v for k, v in f2.items() if k != "feed_not_modified"),
            )
    return out


# ---------------------------------------------------------------------------
# The naive baseline
# ---------------------------------------------------------------------------


def naive_baseline(web: NewsWeb, database: Path, *, deadline_s: float) -> dict[str, float]:
    """Sequential, the obvious way: fetch and parse each feed, then each linked page,
    extract it, and INSERT one row at a time. Virtual hosts are reached by asking
    127.0.0.1 with a Host header."""
    import duckdb
    import feedparser
    import httpx
    import trafilatura

    started = time.monotonic()
    con = duckdb.connect(str(database))
    con.execute(
        "CREATE TABLE articles (url VARCHAR, feed_url VARCHAR, title VARCHAR, author VARCHAR, "
        "published VARCHAR, body VARCHAR, fetched_at TIMESTAMP)"
    )
    rows = requests = failures = 0
    try:
        for feed in web.feeds:
            feed_url = web.feed_url(feed)
            target, host = loopback(feed_url)
            resp = httpx.get(target, headers={"Host": host}, timeout=NAIVE_TIMEOUT_PER_REQUEST)
            requests += 1
            parsed = feedparser.parse(resp.content)
            for entry in parsed.entries:
                if time.monotonic() - started > deadline_s:
                    raise TimeoutError(f"naive baseline over its {deadline_s:.0f} s budget")
                link = entry.get("link") or ""
                target, host = loopback(link)
                page = httpx.get(target, headers={"Host": host}, timeout=NAIVE_TIMEOUT_PER_REQUEST)
                requests += 1
                if page.status_code != 200:
                    failures += 1
                    continue
                text = trafilatura.extract(
                    page.text,
                    url=link,
                    fast=True,
                    include_comments=False,
                    with_metadata=True,
                )
                if not text:
                    failures += 1
                    continue
                con.execute(
                    "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, now())",
                    [
                        link,
                        feed_url,
                        entry.get("title"),
                        entry.get("author"),
                        entry.get("published") or entry.get("updated"),
                        text,
                    ],
                )
                rows += 1
    finally:
        con.close()
    elapsed = time.monotonic() - started
    return {
        "naive_s": elapsed,
        "naive_rows": float(rows),
        "naive_requests": float(requests),
        "naive_failures": float(failures),
        # Publications delivered per second: the whole web took naive_s.
        "naive_rate": len(web.articles) / elapsed if elapsed > 0 else 0.0,
    }


# ---------------------------------------------------------------------------
# The extraction limit
# ---------------------------------------------------------------------------


def extraction_limit(
    web: NewsWeb, *, sample: int = EXTRACT_SAMPLE, repeats: int = 2
) -> dict[str, float]:
    """``extract_page`` over HTML held in memory: one process, then every core.

    Each is timed ``repeats`` times, alternating, and the best time counts: on a
    shared machine the best run is the one least disturbed by other work."""
    from ingest.extract import extract_page
    from ingest.text import normalise_text

    pages = list(web.iter_pages(sample=sample))
    urls = [u for u, _ in pages]
    bodies = [b for _, b in pages]
    total_bytes = sum(len(b) for b in bodies)
    extract_page(bodies[0], urls[0])  # warm: lazy imports, caches
    workers = os.cpu_count() or 1
    ones: list[float] = []
    alls: list[float] = []
    exact = 0
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        # Start every worker (trafilatura's import is about a second) before timing.
        warm = [bodies[0]] * (workers * 2)
        list(pool.map(extract_page, warm, [urls[0]] * len(warm)))
        chunk = max(1, len(bodies) // (workers * 4))  # as ingest.extract.extract_pages
        for attempt in range(max(1, repeats)):
            started = time.perf_counter()
            results = [extract_page(b, u) for b, u in zip(bodies, urls, strict=True)]
            ones.append(time.perf_counter() - started)
            started = time.perf_counter()
            list(pool.map(extract_page, bodies, urls, chunksize=chunk))
            alls.append(time.perf_counter() - started)
            if attempt == 0:
                # Was the text right? Every body should be exactly the generated one.
                by_url = {web.url(a): a for a in web.articles}
                exact = sum(
                    1
                    for u, ex in zip(urls, results, strict=True)
                    if normalise_text(ex.body) == normalise_text("\n".join(web.body(by_url[u])))
                )
    one, every = min(ones), min(alls)
    return {
        "extract_pages": float(len(bodies)),
        "extract_mean_kb": total_bytes / len(bodies) / 1024,
        "extract_exact_share": exact / len(bodies),
        "extract_1core_s": one,
        "extract_1core_rate": len(bodies) / one,
        "extract_1core_worst_s": max(ones),
        "extract_all_s": every,
        "extract_all_rate": len(bodies) / every,
        "extract_all_worst_s": max(alls),
        "extract_workers": float(workers),
        "extract_speedup": one / every,
        "extract_repeats": float(len(ones)),
    }


# ---------------------------------------------------------------------------
# The whole benchmark
# ---------------------------------------------------------------------------


def _git_state() -> dict[str, str]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(ROOT), *args],
                check=False,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = [line[3:] for line in git("status", "--porcelain").splitlines() if len(line) > 3]
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "dirty_paths": ", ".join(p for p in dirty if not p.startswith("benchmarks/")),
    }


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def _ratio_line(name: str, label: str, metrics: Mapping[str, float]) -> str:
    value = metrics.get(name)
    op, target = TARGETS[name]
    if value is None:
        return f"  {label:<58} {'-':>10}   target {op} {target:g}"
    ok = value >= target if op == ">=" else value <= target
    verdict = "meets" if ok else "MISSES"
    return f"  {label:<58} {value:>10.3f}   target {op} {target:g}: {verdict}"


def task_summary(tasks: Sequence[tuple[str, str, float]]) -> str:
    """``name xN (first-last s)`` per task name, in order of first finish."""
    seen: dict[str, list[float]] = {}
    for name, _state, secs in tasks:
        seen.setdefault(name, []).append(secs)
    parts = []
    for name, times in seen.items():
        if len(times) == 1:
            parts.append(f"{name} {times[0]:.1f}")
        else:
            parts.append(f"{name} x{len(times)} ({min(times):.1f}-{max(times):.1f})")
    failed = sum(1 for _n, state, _s in tasks if state != "Completed")
    return ", ".join(parts) + (f"; {failed} not Completed" if failed else "")


def report(
    web: NewsWeb,
    metrics: Mapping[str, float],
    first: IngestRun,
    second: IngestRun | None,
    *,
    check_results: Mapping[str, Mapping[str, Any]],
    settings: Mapping[str, float],
    facts: Mapping[str, Any],
    out: Callable[[str], None] = print,
) -> None:
    exp = web.expected()
    out("")
    out(
        f"news web: {exp['articles']} articles ({exp['syndicated_copies']} syndicated copies, "
        f"{exp['duplicate_listings']} duplicate listings), {exp['sources']} sources, "
        f"{exp['feeds']} feeds, mean page {_fmt(metrics.get('extract_mean_kb'), ' KB', 0)}"
    )
    out(
        "pipeline settings: "
        + ", ".join(f"{k}={v:g}" for k, v in settings.items())
        + f"; cpus={os.cpu_count()}"
    )
    out("")
    out(f"  {'measurement':<44} {'seconds':>9} {'articles/s':>11}")
    rows: list[tuple[str, float | None, float | None]] = [
        ("ingest run 1: wall, cold process", first.wall_s, metrics.get("e2e_rate_wall")),
        ("ingest run 1: after start-up (runs table)", first.run_s, metrics.get("e2e_rate")),
        ("ingest run 1: Prefect flow (log lines)", first.flow_s, None),
    ]
    if second is not None:
        rows += [
            ("ingest run 2 (all 304): wall", second.wall_s, None),
            ("ingest run 2 (all 304): after start-up", second.run_s, None),
        ]
    if "naive_s" in metrics:
        rows.append(("naive baseline (sequential)", metrics["naive_s"], metrics["naive_rate"]))
    rows += [
        ("extraction limit, 1 process", metrics.get("extract_1core_s"), None),
        ("extraction limit, all cores", metrics.get("extract_all_s"), None),
    ]
    for label, secs, rate in rows:
        out(f"  {label:<44} {_fmt(secs):>9} {_fmt(rate, digits=1):>11}")
    out(
        f"  {'(extraction limit rates, pages/s)':<44} {'':>9} "
        f"{_fmt(metrics.get('extract_1core_rate'), digits=1):>11} (1) "
        f"{_fmt(metrics.get('extract_all_rate'), digits=1)} (all; best of "
        f"{metrics.get('extract_repeats', 0):.0f}, speed-up "
        f"{_fmt(metrics.get('extract_speedup'))}, text exact on "
        f"{100 * metrics.get('extract_exact_share', 0):.1f}% of pages)"
    )
    if metrics.get("politeness_floor_s"):
        out(
            f"  {'politeness floor of run 1 (busiest host)':<44} "
            f"{_fmt(metrics.get('politeness_floor_s')):>9} "
            f"{_fmt(metrics.get('politeness_rate_cap'), digits=1):>11}"
        )
    out("")
    out("ratios (same run, same pages):")
    out(
        _ratio_line(
            "ratio_e2e_vs_extract_limit",
            "end-to-end rate after start-up / all-cores extraction limit",
            metrics,
        )
    )
    if "ratio_e2e_vs_naive" in metrics:
        out(_ratio_line("ratio_e2e_vs_naive", "end-to-end rate after start-up / naive", metrics))
        out(
            f"  {'  (wall, start-up included) / naive':<58} "
            f"{metrics.get('ratio_e2e_wall_vs_naive', 0):>10.3f}"
        )
    if "ratio_second_vs_first" in metrics:
        out(_ratio_line("ratio_second_vs_first", "second run / first run, after start-up", metrics))
        out(
            f"  {'  (wall, start-up included)':<58} "
            f"{metrics.get('ratio_second_vs_first_wall', 0):>10.3f}"
        )
    out("")
    out(
        f"Prefect start-up (cold process to 'Beginning flow run'): run 1 "
        f"{_fmt(first.startup_s, ' s')}, run 2 "
        f"{_fmt(second.startup_s if second else None, ' s')}"
        f"  (Prefect DB created beforehand in {_fmt(metrics.get('prefect_db_init_s'), ' s')})"
    )
    out(
        f"time outside the pipeline's work (start-up, flow entry, teardown) share of wall: "
        f"run 1 {_fmt(metrics.get('prefect_overhead_share_run1'), digits=3)}, run 2 "
        f"{_fmt(metrics.get('prefect_overhead_share_run2'), digits=3)}"
    )
    out(
        f"  run 1: to runs.started_at {_fmt(first.pre_run_s, ' s')}, work "
        f"{_fmt(first.run_s, ' s')}, after runs.finished_at {_fmt(first.post_run_s, ' s')}"
    )
    if first.tasks:
        out("run 1 tasks (count, first and last finish in seconds after 'Beginning flow run'):")
        out("  " + task_summary(first.tasks))
    out(
        f"peak memory, run 1: largest process {_fmt(first.maxrss_mb, ' MB', 0)}, whole tree "
        f"(main + extraction workers, sampled) {_fmt(first.tree_rss_peak_mb, ' MB', 0)}"
    )
    out(
        "1-minute load average before each phase (other work on the machine): "
        + ", ".join(
            f"{k.removeprefix('load1_before_')} {v:.2f}"
            for k, v in metrics.items()
            if k.startswith("load1_before_")
        )
    )
    out("")
    bad = [name for name, c in check_results.items() if not c["ok"]]
    out(
        "warehouse checks: "
        + ("all OK" if not bad else f"{len(bad)} of {len(check_results)} differ")
    )
    for name, c in check_results.items():
        mark = "ok " if c["ok"] else "BAD"
        out(f"  [{mark}] {name}: expected {c['expected']}, got {c['actual']}")
    for number, run in enumerate(facts.get("runs") or [], start=1):
        for err in run.get("fetch_errors") or []:
            out(
                f"  run {number} fetch_log: {err['n']} x {err['kind']} {err['outcome']}: "
                f"{err['error']}"
            )
        for rej in run.get("rejects") or []:
            out(f"  run {number} rejects: {rej['n']} x {rej['stage']}: {rej['reason']}")
    extractors = facts.get("extractors") or {}
    out("  article bodies by extractor: " + ", ".join(f"{k} {v}" for k, v in extractors.items()))


def run_benchmark(
    articles: int,
    sources: int,
    skip_naive: bool = False,
    *,
    seed: int | None = None,
    results_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    extract_sample: int = EXTRACT_SAMPLE,
    repeats: int = 2,
    prefect_home: Path | None = None,
    gzip: bool = False,
    prerender: bool = True,
    keep: Path | None = None,
    quiet: bool = False,
) -> dict[str, float]:
    """Run the whole benchmark once; return the flat metrics (seconds, rates, ratios).

    ``env`` adds variables to the ``ingest`` subprocesses (e.g.
    ``{"INGEST_HOST_GAP": "0"}``); ``results_dir`` gets ``e2e-<N>.json``;
    ``keep`` keeps the warehouses and registry in that directory.
    """
    say: Callable[[str], None] = (lambda _s: None) if quiet else print
    web = NewsWeb(articles, sources) if seed is None else NewsWeb(articles, sources, seed)
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    metrics: dict[str, float] = {}
    second: IngestRun | None = None
    try:
        with NewsWebServer(web, gzip=gzip) as server:
            registry = workdir / "sources.toml"
            registry.write_text(web.sources_toml(), encoding="utf-8")
            warehouse = workdir / "warehouse.duckdb"
            home = prefect_home or workdir / "prefect-home"
            run_env = ingest_environment(server, home, env or {})
            settings = pipeline_settings(run_env)
            timeout = RUN_TIMEOUT_BASE + RUN_TIMEOUT_PER_ARTICLE * articles
            say(f"serving {articles} articles from {sources} sources on {LOOPBACK}:{server.port}")
            if prefect_home is None:
                metrics["prefect_db_init_s"] = init_prefect_home(home, run_env)
            if prerender:
                metrics["prerender_s"] = web.prerender()

            def ingest(n: int) -> IngestRun:
                metrics[f"load1_before_run{n}"] = os.getloadavg()[0]
                done = run_ingest(warehouse, registry, run_env, timeout=timeout)
                if not done.ok:
                    saved = done.save_log(
                        (results_dir or workdir) / f"{result_stem(articles, sources)}-run{n}.log"
                    )
                    say(f"ingest run {n} failed (log: {saved}); its last lines:")
                    say("  " + "\n  ".join(done.log_tail))
                return done

            say("(1) ingest run --all-feeds ...")
            first = ingest(1)
            say("(4) second ingest run --all-feeds (all feeds should answer 304) ...")
            second = ingest(2)
            facts = warehouse_facts(warehouse, [first.run_id, second.run_id])
            requests = dict(server.requests)
            server.reset_counts()

            if not skip_naive:
                say("(2) naive baseline ...")
                metrics["load1_before_naive"] = os.getloadavg()[0]
                metrics.update(
                    naive_baseline(
                        web,
                        workdir / "naive.duckdb",
                        deadline_s=timeout * 4,
                    )
                )
        say("(3) extraction limit ...")
        metrics["load1_before_extract"] = os.getloadavg()[0]
        metrics.update(extraction_limit(web, sample=extract_sample, repeats=repeats))

        rate = first.articles_loaded / first.run_s if first.run_s else 0.0
        metrics.update(
            {
                "articles": float(articles),
                "sources": float(sources),
                "run1_wall_s": first.wall_s,
                "run1_s": first.run_s or 0.0,
                "run1_flow_s": first.flow_s or 0.0,
                "run1_startup_s": first.startup_s or 0.0,
                "run1_articles": float(first.articles_loaded),
                "run1_maxrss_mb": first.maxrss_mb,
                "run1_tree_rss_peak_mb": first.tree_rss_peak_mb,
                "e2e_rate": rate,
                "e2e_rate_wall": first.articles_loaded / first.wall_s,
                "run2_wall_s": second.wall_s,
                "run2_s": second.run_s or 0.0,
                "run2_startup_s": second.startup_s or 0.0,
                "prefect_overhead_share_run1": 1 - (first.run_s or 0.0) / first.wall_s,
                "prefect_overhead_share_run2": 1 - (second.run_s or 0.0) / second.wall_s,
                "ratio_e2e_vs_extract_limit": rate / metrics["extract_all_rate"],
                "ratio_second_vs_first": (second.run_s or 0.0) / first.run_s
                if first.run_s
                else 0.0,
                "ratio_second_vs_first_wall": second.wall_s / first.wall_s,
            }
        )
        floor = politeness_floor(web, settings)
        if floor:
            metrics["politeness_floor_s"] = floor
            metrics["politeness_rate_cap"] = articles / floor
        if "naive_rate" in metrics and metrics["naive_rate"] > 0:
            metrics["ratio_e2e_vs_naive"] = rate / metrics["naive_rate"]
            metrics["ratio_e2e_wall_vs_naive"] = metrics["e2e_rate_wall"] / metrics["naive_rate"]
        check_results = checks(web, facts, first, second)
        metrics["checks_failed"] = float(sum(1 for c in check_results.values() if not c["ok"]))
        if not quiet:
            report(
                web,
                metrics,
                first,
                second,
                check_results=check_results,
                settings=settings,
                facts=facts,
            )
        if results_dir is not None:
            results_dir.mkdir(parents=True, exist_ok=True)
            path = results_dir / f"{result_stem(articles, sources)}.json"
            document = {
                "benchmark": "e2e",
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "git": _git_state(),
                "web": web.expected() | {"seed": web.seed},
                "pipeline_settings": settings,
                "env_overrides": dict(env or {}),
                "metrics": metrics,
                "targets": {k: {"op": op, "value": v} for k, (op, v) in TARGETS.items()},
                "checks": check_results,
                "warehouse": facts,
                "server_requests": requests,
                "runs": {
                    "first": {k: v for k, v in asdict(first).items() if k not in NOT_SAVED},
                    "second": {k: v for k, v in asdict(second).items() if k not in NOT_SAVED},
                },
            }
            path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
            say(f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return metrics
    finally:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for item in workdir.iterdir():
                if item.name != "prefect-home":
                    shutil.move(str(item), keep / item.name)
        shutil.rmtree(workdir, ignore_errors=True)


def _env_pairs(values: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--env expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--articles", type=int, default=DEFAULT_ARTICLES, help="articles N (default 1000)"
    )
    parser.add_argument(
        "--sources", type=int, default=DEFAULT_SOURCES, help="sources S (default 20)"
    )
    parser.add_argument("--skip-naive", action="store_true", help="skip the naive baseline")
    parser.add_argument("--seed", type=int, default=None, help="seed of the news web")
    parser.add_argument(
        "--host-gap",
        type=float,
        default=None,
        help="INGEST_HOST_GAP for the ingest runs (seconds between request starts per "
        "host; default: the pipeline's own)",
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra env for ingest"
    )
    parser.add_argument(
        "--extract-sample",
        type=int,
        default=EXTRACT_SAMPLE,
        help=f"pages for the extraction limit at most (default {EXTRACT_SAMPLE})",
    )
    parser.add_argument(
        "--repeats", type=int, default=2, help="timings of the extraction limit (best counts)"
    )
    parser.add_argument("--gzip", action="store_true", help="serve gzip to clients asking")
    parser.add_argument(
        "--render-on-demand",
        action="store_true",
        help="render pages per request instead of before timing (the server's CPU then "
        "competes with the pipeline)",
    )
    parser.add_argument(
        "--prefect-home", type=Path, default=None, help="use this PREFECT_HOME (default: fresh)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep warehouses in this dir")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    env = _env_pairs(args.env)
    if args.host_gap is not None:
        env["INGEST_HOST_GAP"] = f"{args.host_gap:g}"
    stop_on_sigterm()
    metrics = run_benchmark(
        args.articles,
        args.sources,
        args.skip_naive,
        seed=args.seed,
        results_dir=args.results_dir,
        env=env,
        extract_sample=args.extract_sample,
        repeats=args.repeats,
        prefect_home=args.prefect_home,
        gzip=args.gzip,
        prerender=not args.render_on_demand,
        keep=args.keep,
    )
    return 1 if metrics.get("checks_failed") else 0


if __name__ == "__main__":
    raise SystemExit(main())
