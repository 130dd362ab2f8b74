"""End-to-end benchmark: the real ``ingest run`` against a synthetic news web.

One invocation serves one :class:`newsweb.NewsWeb` on 127.0.0.1 and measures,
on the same pages:

1. ``ingest run --all-feeds`` as a subprocess (the real CLI, Prefect in
   ephemeral mode): wall time from a cold process, and the time after
   start-up (``runs.started_at`` to ``runs.finished_at`` in the warehouse);
2. a naive baseline written the obvious way: sequential ``feedparser.parse``,
   ``httpx.get`` of each link, ``trafilatura.extract`` with the pipeline's
   settings and one DuckDB INSERT per row;
3. the extraction limit: plain ``trafilatura.extract(html, url=url,
   fast=True, include_comments=False)`` over the same HTML in memory, on one
   process and on every core (spawned process pool), and the project's own
   step (``ingest.extract.extract_page``) timed the same way beside it;
4. a second ``ingest run --all-feeds`` on the same warehouse, where every
   feed answers 304;
5. unless ``--no-itemise``: one more cold ``ingest run`` into a fresh
   warehouse under ``py-spy record --subprocesses``, its CPU itemised per
   article by category of work and process role.

``--web realistic`` serves :class:`realweb.RealWeb` (real article pages,
1,000 sources, near-duplicate copies) instead of the generated web.

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

import realweb  # noqa: E402
from newsweb import LOOPBACK, NewsWeb, NewsWebServer, loopback  # noqa: E402
from realweb import RealWeb  # noqa: E402

Web = NewsWeb | RealWeb

ROOT = _HERE.parent
BIN = Path(sys.executable).parent
RESULTS_DIR = _HERE / "results"
TARGETS = {
    "ratio_e2e_vs_extract_limit": (">=", 0.7),
    "cpu_outside_extraction_ms": ("<=", 3.0),
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
PYSPY = BIN / "py-spy"
PROFILE_RATE = 50  # py-spy samples a second of each thread of the itemised run
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


def _proc_table() -> tuple[dict[int, list[int]], dict[int, bytes]]:
    """Every process's children and its ``/proc/PID/stat`` line (Linux)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, bytes] = {}
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
        stats[int(entry.name)] = stat
    return children, stats


def _tree_memory(root: int) -> tuple[int, int]:
    """(resident bytes of ``root`` and all its descendants, the largest
    high-water mark of one of them) from Linux /proc. The high-water mark
    (VmHWM) starts afresh at exec, unlike ``ru_maxrss``, which keeps what a
    child had when it was forked from a large parent."""
    children, _ = _proc_table()
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


def _tree_cpu(root: int, seen: dict[int, tuple[float, str]]) -> None:
    """Record in ``seen`` the CPU seconds (user + system) and the command line of
    ``root`` and each of its descendants, from Linux /proc. A process that ends
    keeps what it had at the last look (up to 0.2 s short)."""
    children, stats = _proc_table()
    tick = os.sysconf("SC_CLK_TCK")
    todo = [root]
    while todo:
        pid = todo.pop()
        line = stats.get(pid)
        if line is not None:
            fields = line[line.rfind(b")") + 2 :].split()
            secs = (int(fields[11]) + int(fields[12])) / tick
            command = seen[pid][1] if pid in seen else ""
            if not command:
                with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as fh:
                    command = fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            seen[pid] = (max(secs, seen[pid][0] if pid in seen else 0.0), command)
        todo.extend(children.get(pid, ()))


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
    prefix: Sequence[str] = (),
    cpu: dict[int, tuple[float, str]] | None = None,
) -> IngestRun:
    """``ingest --warehouse W --sources S run --all-feeds`` as a subprocess, timed.

    ``prefix`` goes before the command (a profiler that launches it); ``cpu``
    gets, per process of the tree, its CPU seconds and command line as last
    seen (sampled from /proc every 0.2 s)."""
    cmd = [
        *prefix,
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
                if cpu is not None:
                    _tree_cpu(proc.pid, cpu)

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sampler = threading.Thread(target=sample, daemon=True)
    if (sample_rss or cpu is not None) and sys.platform.startswith("linux"):
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


def result_stem(articles: int, sources: int, web: Web | None = None) -> str:
    """``e2e-<N>``, with ``-s<S>`` when S is not the default 20: runs of other
    shapes must not overwrite the default one's results. The realistic web:
    ``e2e-real-<pages>-s<S>``."""
    if isinstance(web, RealWeb):
        return f"e2e-real-{articles}-s{sources}"
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


def politeness_floor(web: Web, settings: Mapping[str, float]) -> float:
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


def warehouse_facts(
    warehouse: Path, run_ids: Sequence[str | None], copy_pairs: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """What the warehouse holds; with ``copy_pairs`` (copy URL, original URL),
    how many copies share their original's story."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        if copy_pairs:
            cluster = dict(con.execute("SELECT url, cluster_id FROM articles").fetchall())
            joined = sum(
                1
                for c, o in copy_pairs
                if cluster.get(c) is not None and cluster.get(c) == cluster.get(o)
            )
        else:
            joined = None

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
        if joined is not None:
            facts["copies_in_original_story"] = joined
            facts["copies"] = len(copy_pairs)
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
    web: Web, facts: Mapping[str, Any], first: IngestRun, second: IngestRun | None
) -> dict[str, dict[str, Any]]:
    """What the warehouse should hold after the runs, against what it holds."""
    exp = web.expected()
    out: dict[str, dict[str, Any]] = {}

    def check(name: str, expected: object, actual: object) -> None:
        out[name] = {"expected": expected, "actual": actual, "ok": expected == actual}

    check("run1 completed", "completed", first.status)
    check("articles (one row per publication)", exp["articles"], facts.get("articles"))
    check("articles loaded by run 1", exp["articles"], first.articles_loaded)
    if isinstance(web, NewsWeb):
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
    # On real pages how many bodies come from the page, and how many copies
    # join their original's story, are measurements (printed), not checks.
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


def naive_baseline(web: Web, database: Path, *, deadline_s: float) -> dict[str, float]:
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
            feed_url = web.origin_url(feed.source) + feed.path
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


def plain_extract(html: bytes, url: str) -> str:
    """The yardstick: trafilatura alone, with the settings the pipeline starts from."""
    import trafilatura

    return trafilatura.extract(html, url=url, fast=True, include_comments=False) or ""


def project_extract(html: bytes, url: str) -> str:
    """The project's extraction step (trafilatura and the metadata step)."""
    from ingest.extract import extract_page

    return extract_page(html, url).body


def extraction_limit(
    web: Web, *, sample: int = EXTRACT_SAMPLE, repeats: int = 2
) -> dict[str, float]:
    """Extraction over HTML held in memory, in one process and on every core
    (a spawned pool of ``os.cpu_count()`` processes, the pipeline's chunk size).

    The limit is plain ``trafilatura.extract(html, url=url, fast=True,
    include_comments=False)``; the project's own step (``extract_page``, which
    adds the metadata step) is timed the same way beside it. All-cores timings
    are repeated ``repeats`` times, alternating, and the best counts: on a
    shared machine the best run is the one least disturbed by other work; the
    one-process timings are taken once."""
    from ingest.text import normalise_text

    pages = list(web.iter_pages(sample=sample))
    urls = [u for u, _ in pages]
    bodies = [b for _, b in pages]
    total_bytes = sum(len(b) for b in bodies)
    workers = os.cpu_count() or 1
    kinds: dict[str, Callable[[bytes, str], str]] = {
        "extract": plain_extract,
        "project_extract": project_extract,
    }
    warm_n = min(len(bodies), 4 * workers)
    for fn in kinds.values():
        for b, u in zip(bodies[:warm_n], urls[:warm_n], strict=True):
            fn(b, u)  # warm: lazy imports, models, caches
    ones: dict[str, float] = {}
    cpu_ones: dict[str, float] = {}  # CPU seconds of the one-process pass: no other work counts
    alls: dict[str, list[float]] = {k: [] for k in kinds}
    texts: dict[str, list[str]] = {}
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        # Start every worker (trafilatura's import is about a second) before timing.
        for fn in kinds.values():
            list(pool.map(fn, bodies[:warm_n] * 2, urls[:warm_n] * 2))
        chunk = max(1, len(bodies) // (workers * 4))  # as ingest.extract.extract_pages
        for name, fn in kinds.items():
            started = time.perf_counter()
            cpu_started = time.process_time()
            texts[name] = [fn(b, u) for b, u in zip(bodies, urls, strict=True)]
            ones[name] = time.perf_counter() - started
            cpu_ones[name] = time.process_time() - cpu_started
        for _attempt in range(max(1, repeats)):
            for name, fn in kinds.items():
                started = time.perf_counter()
                list(pool.map(fn, bodies, urls, chunksize=chunk))
                alls[name].append(time.perf_counter() - started)
    out: dict[str, float] = {
        "extract_pages": float(len(bodies)),
        "extract_mean_kb": total_bytes / len(bodies) / 1024,
        "extract_workers": float(workers),
        "extract_repeats": float(max(1, repeats)),
    }
    for name in kinds:
        one, every = ones[name], min(alls[name])
        out |= {
            f"{name}_1core_s": one,
            f"{name}_1core_rate": len(bodies) / one,
            f"{name}_1core_ms_per_page": 1000 * one / len(bodies),
            f"{name}_cpu_ms_per_page": 1000 * cpu_ones[name] / len(bodies),
            f"{name}_all_s": every,
            f"{name}_all_rate": len(bodies) / every,
            f"{name}_all_worst_s": max(alls[name]),
            f"{name}_speedup": one / every,
            f"{name}_nonempty_share": sum(1 for t in texts[name] if t) / len(bodies),
        }
    # Was the text right? On the generated web every body is known exactly.
    expected = [web.expected_body(u) for u in urls]
    if all(e is not None for e in expected):
        out["extract_exact_share"] = sum(
            1
            for got, want in zip(texts["project_extract"], expected, strict=True)
            if want is not None and normalise_text(got) == normalise_text(want)
        ) / len(bodies)
    out["project_extract_cost_vs_plain"] = (
        out["project_extract_cpu_ms_per_page"] / out["extract_cpu_ms_per_page"]
    )
    return out


# ---------------------------------------------------------------------------
# CPU itemised per article (py-spy over every process of a run)
# ---------------------------------------------------------------------------

CATEGORIES = (
    "extraction",
    "metadata",
    "HTTP",
    "feed parsing",
    "storage",
    "staging",
    "fingerprint",
    "archive",
    "orchestration",
    "imports",
    "other",
)
NO_FRAME = "no Python frame"  # a thread sampled with an empty stack: left out of the shares
WAITING = "waiting"  # a thread sampled inside a blocking wait: left out of the shares
# Innermost frames that are a thread blocked in a wait (a C call under them):
# py-spy cannot always tell such a thread from a running one, and on a busy
# machine a thread that wakes to poll stays runnable for a while.
WAIT_FRAMES = (
    "Condition.wait (threading.py",
    "Event.wait (threading.py",
    "Thread.join (threading.py",
    "Thread._wait_for_tstate_lock (threading.py",
    "Semaphore.acquire (threading.py",
    "Queue.get (queue.py",
    "_worker (concurrent/futures/thread.py",
    "EpollSelector.select (selectors.py",
    "PollSelector.select (selectors.py",
    "_PollLikeSelector.select (selectors.py",
    "select (selectors.py",
    "watch_parent.<locals>.watch (ingest/lifeline.py",
    "_connection_worker_thread (aiosqlite/core.py",
)
ROLES = ("ingest main", "extraction workers", "Prefect server", "other processes")
# (path prefix, category, strong). A stack goes to the category of its
# innermost strong frame; when it has none, to that of its innermost weak one
# (the standard library, lxml, the event loop: they work for whoever calls
# them); else "other". Paths as py-spy prints them (relative to sys.path).
FRAME_RULES: tuple[tuple[str, str, bool], ...] = (
    ("ingest/store/staging", "staging", True),
    ("pyarrow/", "staging", True),
    ("ingest/store/", "storage", True),
    ("duckdb", "storage", True),
    ("ingest/metadata", "metadata", True),
    ("ingest/languages", "metadata", True),
    ("htmldate/", "metadata", True),
    ("dateparser/", "metadata", True),
    ("py3langid/", "metadata", True),
    ("dateutil/", "metadata", False),
    ("trafilatura/", "extraction", True),
    ("justext/", "extraction", True),
    ("courlan/", "extraction", True),
    ("lxml/", "extraction", False),
    ("ingest/fetch", "HTTP", True),
    ("ingest/guard", "HTTP", True),
    ("ingest/robots", "HTTP", True),
    ("httpx/", "HTTP", True),
    ("httpcore/", "HTTP", True),
    ("h11/", "HTTP", True),
    ("h2/", "HTTP", True),
    ("ssl.py", "HTTP", False),
    ("socket.py", "HTTP", False),
    ("http/", "HTTP", False),
    ("feedparser/", "feed parsing", True),
    ("sgmllib", "feed parsing", True),
    ("ingest/feeds", "feed parsing", True),
    ("ingest/near", "fingerprint", True),
    ("numpy/", "fingerprint", True),
    ("ingest/rawstore", "archive", True),
    ("zlib", "archive", False),
    ("gzip.py", "archive", False),
    ("_compression", "archive", False),
    ("brotli", "archive", False),
    ("zstandard", "archive", False),
    ("prefect/", "orchestration", True),
    ("pydantic", "orchestration", True),
    ("sqlalchemy/", "orchestration", True),
    ("aiosqlite/", "orchestration", True),
    ("alembic/", "orchestration", True),
    ("uvicorn/", "orchestration", True),
    ("starlette/", "orchestration", True),
    ("fastapi/", "orchestration", True),
    ("flows/", "orchestration", True),
    ("ingest/lifeline", "orchestration", True),
    ("ingest/stopping", "orchestration", True),
    ("sqlite3/", "orchestration", False),
    ("asyncio/", "orchestration", False),
    ("anyio/", "orchestration", False),
    ("selectors.py", "orchestration", False),
    ("concurrent/", "orchestration", False),
    ("multiprocessing/", "orchestration", False),
    ("threading.py", "orchestration", False),
    ("queue.py", "orchestration", False),
    ("logging/", "orchestration", False),
    ("ingest/", "other", True),
)
_PROCESS_FRAME = re.compile(r'process (\d+):"((?:[^"\\]|\\.)*)";?')
_FRAME_PATH = re.compile(r"\(([^()]*?)(?::\d+)?\)$")


def _frame_path(frame: str) -> str:
    m = _FRAME_PATH.search(frame)
    path = m.group(1) if m else frame
    for root in ("site-packages/", "/src/", f"{ROOT}/"):
        at = path.rfind(root)
        if at >= 0:
            path = path[at + len(root) :]
    return path


def _frame_rule(path: str) -> tuple[str, bool] | None:
    for prefix, category, strong in FRAME_RULES:
        if path.startswith(prefix):
            return category, strong
    return None


def classify_stack(frames: Sequence[str]) -> tuple[str, str]:
    """(category, deciding frame) of one sampled stack, outermost frame first."""
    if frames and frames[-1].startswith(WAIT_FRAMES):
        return WAITING, frames[-1]
    paths = [_frame_path(f) for f in frames]
    importing = next(
        (
            i
            for i, (f, p) in enumerate(zip(frames, paths, strict=True))
            if "importlib._bootstrap" in p and f.startswith("_find_and_load")
        ),
        None,
    )
    if importing is not None:
        importer = next(
            (
                f
                for f, p in zip(frames[:importing][::-1], paths[:importing][::-1], strict=True)
                if "importlib" not in p
            ),
            frames[importing],
        )
        return "imports", importer
    weak: tuple[str, int] | None = None
    for depth in range(len(frames) - 1, -1, -1):
        rule = _frame_rule(paths[depth])
        if rule is None:
            continue
        category, strong = rule
        if not strong:
            weak = weak or (category, depth)
            continue
        outer = paths[:depth]
        # The metadata step calling trafilatura's helpers is metadata; Prefect's
        # client and server speaking HTTP to each other is orchestration.
        if category == "extraction" and any(
            p.startswith(("ingest/metadata", "ingest/languages")) for p in outer
        ):
            category = "metadata"
        elif category == "HTTP" and any(
            p.startswith(("prefect/", "uvicorn/", "starlette/")) for p in outer
        ):
            category = "orchestration"
        return category, frames[depth]
    if weak is not None:
        return weak[0], frames[weak[1]]
    return "other", frames[-1] if frames else "?"


def process_role(command: str, root: bool) -> str:
    if "py-spy" in command:
        return "profiler"
    if "multiprocessing.spawn" in command or "--multiprocessing-fork" in command:
        return "extraction workers"
    if "uvicorn" in command or "prefect.server" in command:
        return "Prefect server"
    if "bin/ingest" in command or root:
        return "ingest main"
    return "other processes"


def parse_profile(path: Path) -> dict[int, dict[str, Any]]:
    """py-spy's raw output (one collapsed stack and its count a line, each stack
    behind one ``process PID:"command"`` frame per level of the process tree)
    as per-process sample counts: ``{pid: {"command", "root", "samples",
    "categories": {category: n}, "frames": {(category, frame): n}}}``."""
    out: dict[int, dict[str, Any]] = {}
    root_pid: int | None = None
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            pid: int | None = None
            command = ""
            pos = 0
            while m := _PROCESS_FRAME.match(stack, pos):
                pid, command = int(m.group(1)), m.group(2)
                if root_pid is None and pos == 0:
                    root_pid = pid
                pos = m.end()
            if pid is None:
                continue
            frames = [f for f in stack[pos:].split(";") if f]
            category, frame = classify_stack(frames) if frames else (NO_FRAME, "")
            proc = out.setdefault(
                pid,
                {"command": command, "root": False, "samples": 0, "categories": {}, "frames": {}},
            )
            proc["command"] = proc["command"] or command
            proc["samples"] += count
            proc["categories"][category] = proc["categories"].get(category, 0) + count
            key = (category, frame)
            proc["frames"][key] = proc["frames"].get(key, 0) + count
    for pid, proc in out.items():
        proc["root"] = pid == root_pid
    return out


def itemise_cpu(
    profile: Mapping[int, Mapping[str, Any]],
    cpu: Mapping[int, tuple[float, str]],
    articles: int,
    rate: int,
) -> dict[str, Any]:
    """CPU milliseconds per article by category and process role.

    Each process's CPU time (from /proc) is shared among categories in the
    proportions of its py-spy samples: a sample says where a thread was, not
    that it was on a core (on a busy machine runnable threads wait), so the
    samples give the shares and /proc the amount. Samples of a thread with no
    Python frame at all (py-spy records some for the processes' main threads,
    most while a process starts) are counted apart and left out of the shares.
    A process py-spy saw but /proc did not gets its samples' time; one /proc
    saw but py-spy did not counts as "unsampled"."""
    per = max(1, articles)
    table: dict[str, dict[str, float]] = {r: dict.fromkeys(CATEGORIES, 0.0) for r in ROLES}
    frames: dict[tuple[str, str], float] = {}
    role_cpu: dict[str, float] = {}
    role_samples: dict[str, float] = {}
    unsampled: dict[str, float] = {}
    no_frame: dict[str, list[float]] = {}
    pids = set(profile) | set(cpu)
    root = next((pid for pid, p in profile.items() if p.get("root")), None)
    for pid in pids:
        proc = profile.get(pid)
        secs, command = cpu.get(pid, (0.0, ""))
        role = process_role(command or (proc or {}).get("command", ""), pid == root)
        if role == "profiler":
            role_cpu[role] = role_cpu.get(role, 0.0) + secs
            continue
        if proc is None or not proc["samples"]:
            if secs > 0:
                unsampled[role] = unsampled.get(role, 0.0) + secs
                role_cpu[role] = role_cpu.get(role, 0.0) + secs
            continue
        empty = proc["categories"].get(NO_FRAME, 0) + proc["categories"].get(WAITING, 0)
        counted = no_frame.setdefault(role, [0.0, 0.0])
        counted[0] += empty
        counted[1] += proc["samples"]
        samples = proc["samples"] - empty
        if pid not in cpu:
            secs = samples / rate
        role_cpu[role] = role_cpu.get(role, 0.0) + secs
        role_samples[role] = role_samples.get(role, 0.0) + samples / rate
        if samples <= 0:
            unsampled[role] = unsampled.get(role, 0.0) + secs
            continue
        for category, n in proc["categories"].items():
            if category not in (NO_FRAME, WAITING):
                table[role][category] += 1000 * secs * n / samples / per
        for key, n in proc["frames"].items():
            if key[0] not in (NO_FRAME, WAITING):
                frames[key] = frames.get(key, 0.0) + 1000 * secs * n / samples / per
    by_category = {c: sum(table[r][c] for r in ROLES) for c in CATEGORIES}
    total = sum(by_category.values()) + 1000 * sum(unsampled.values()) / per
    top = sorted(frames.items(), key=lambda kv: -kv[1])
    return {
        "articles": articles,
        "rate_hz": rate,
        "ms_per_article": {r: {c: round(v, 3) for c, v in table[r].items()} for r in ROLES},
        "ms_per_article_by_category": {c: round(v, 3) for c, v in by_category.items()},
        "ms_per_article_by_role": {
            r: round(1000 * role_cpu.get(r, 0.0) / per, 3) for r in (*ROLES, "profiler")
        },
        "unsampled_ms_per_article": {r: round(1000 * v / per, 3) for r, v in unsampled.items()},
        "total_ms_per_article": round(total, 3),
        "outside_extraction_ms_per_article": round(total - by_category["extraction"], 3),
        "cpu_s_by_role": {r: round(v, 2) for r, v in role_cpu.items()},
        "processes": [
            {
                "pid": pid,
                "command": (cpu.get(pid, (0.0, ""))[1] or profile.get(pid, {}).get("command", ""))[
                    :160
                ],
                "cpu_s": round(cpu.get(pid, (0.0, ""))[0], 3),
                "samples": int(profile.get(pid, {}).get("samples", 0)),
            }
            for pid in sorted(pids)
        ],
        "sampled_s_by_role": {r: round(v, 2) for r, v in role_samples.items()},
        "left_out_share_by_role": {r: round(e / n, 3) for r, (e, n) in no_frame.items() if n},
        "top_frames": [
            {"category": c, "frame": f, "ms_per_article": round(v, 3)} for (c, f), v in top[:40]
        ],
    }


def profiled_run(
    warehouse: Path,
    registry: Path,
    env: Mapping[str, str],
    *,
    timeout: float,
    rate: int,
    workdir: Path,
) -> tuple[IngestRun, dict[str, Any]] | None:
    """One more cold ``ingest run --all-feeds`` into a fresh warehouse, under
    ``py-spy record --subprocesses`` (every process of the tree: the main one,
    the spawned extraction workers, Prefect's temporary server), itemised.
    None when py-spy is not installed."""
    if not PYSPY.exists() and shutil.which("py-spy") is None:
        return None
    pyspy = str(PYSPY) if PYSPY.exists() else str(shutil.which("py-spy"))
    raw = workdir / "profile.txt"
    cpu: dict[int, tuple[float, str]] = {}
    prefix = [
        pyspy,
        "record",
        "--subprocesses",
        "--nonblocking",
        "--format",
        "raw",
        "--rate",
        str(rate),
        "-o",
        str(raw),
        "--",
    ]
    done = run_ingest(warehouse, registry, env, timeout=timeout, prefix=prefix, cpu=cpu)
    if not raw.exists():
        return done, {"error": "py-spy wrote no profile", "log_tail": done.log_tail}
    profile = parse_profile(raw)
    return done, itemise_cpu(profile, cpu, done.articles_loaded, rate)


def itemisation_lines(item: Mapping[str, Any]) -> list[str]:
    """The itemisation as a table: ms of CPU per article, category x process role."""
    table = item["ms_per_article"]
    heads = ("main", "workers", "server", "others")
    lines = [f"  {'ms of CPU per article':<22}" + "".join(f"{h:>9}" for h in heads) + f"{'all':>9}"]
    for c in CATEGORIES:
        row = [table[r][c] for r in ROLES]
        lines.append(f"  {c:<22}" + "".join(f"{v:>9.2f}" for v in row) + f"{sum(row):>9.2f}")
    role = item["ms_per_article_by_role"]
    lines.append(
        f"  {'total (CPU of /proc)':<22}"
        + "".join(f"{role.get(r, 0.0):>9.2f}" for r in ROLES)
        + f"{item['total_ms_per_article']:>9.2f}"
    )
    extraction = item["ms_per_article_by_category"]["extraction"]
    if item["total_ms_per_article"] > 0:
        lines.append(
            f"  extraction / all CPU: {extraction / item['total_ms_per_article']:.3f} (the most "
            "the end-to-end / extraction-limit ratio can reach when the run is CPU-bound, "
            "even with perfect overlap)"
        )
    lines.append(
        f"  outside extraction: {item['outside_extraction_ms_per_article']:.2f} ms per article"
        + "   target <= 3"
        + (": meets" if item["outside_extraction_ms_per_article"] <= 3.0 else ": MISSES")
    )
    unsampled = {r: v for r, v in item.get("unsampled_ms_per_article", {}).items() if v >= 0.005}
    if unsampled:
        lines.append(
            "  CPU of processes py-spy did not sample (in the totals): "
            + ", ".join(f"{r} {v:.2f} ms" for r, v in unsampled.items())
        )
    lines.append(
        f"  py-spy itself: {role.get('profiler', 0.0):.2f} ms per article "
        f"(rate {item['rate_hz']} Hz; not in the table); samples left out of the shares "
        "(no Python frame, or a thread blocked in a wait): "
        + ", ".join(
            f"{r} {100 * v:.0f}%" for r, v in item.get("left_out_share_by_role", {}).items()
        )
    )
    lines.append("  largest items outside extraction (innermost deciding frame):")
    shown = 0
    for row in item["top_frames"]:
        if row["category"] == "extraction":
            continue
        lines.append(
            f"    {row['ms_per_article']:>6.2f} ms  {row['category']:<14} {row['frame'][:90]}"
        )
        shown += 1
        if shown == 10:
            break
    return lines


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
    web: Web,
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
    if isinstance(web, RealWeb):
        out(
            f"realistic web: {exp['articles']} pages ({exp['originals']} real originals in "
            f"{exp['languages']} languages, {exp['syndicated_copies']} near-duplicate copies of "
            f"{exp['wire_originals_copied']} of them), {exp['sources']} sources, "
            f"{exp['feeds']} feeds, mean page {_fmt(metrics.get('extract_mean_kb'), ' KB', 0)}"
        )
    else:
        out(
            f"news web: {exp['articles']} articles ({exp['syndicated_copies']} syndicated "
            f"copies, {exp['duplicate_listings']} duplicate listings), {exp['sources']} sources, "
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
        ("extraction limit (trafilatura), 1 process", metrics.get("extract_1core_s"), None),
        ("extraction limit (trafilatura), all cores", metrics.get("extract_all_s"), None),
        (
            "the project's extraction step alone, 1 proc.",
            metrics.get("project_extract_1core_s"),
            None,
        ),
        ("the project's extraction step alone, all", metrics.get("project_extract_all_s"), None),
    ]
    for label, secs, rate in rows:
        out(f"  {label:<44} {_fmt(secs):>9} {_fmt(rate, digits=1):>11}")
    exact = metrics.get("extract_exact_share")
    out(
        f"  {'(extraction limit rates, pages/s)':<44} {'':>9} "
        f"{_fmt(metrics.get('extract_1core_rate'), digits=1):>11} (1) "
        f"{_fmt(metrics.get('extract_all_rate'), digits=1)} (all; best of "
        f"{metrics.get('extract_repeats', 0):.0f}, speed-up "
        f"{_fmt(metrics.get('extract_speedup'))}; "
        f"{_fmt(metrics.get('extract_cpu_ms_per_page'), ' ms', 1)} of CPU a page, text on "
        f"{100 * metrics.get('extract_nonempty_share', 0):.1f}% of pages)"
    )
    out(
        f"  {'(the project step alone, pages/s)':<44} {'':>9} "
        f"{_fmt(metrics.get('project_extract_1core_rate'), digits=1):>11} (1) "
        f"{_fmt(metrics.get('project_extract_all_rate'), digits=1)} (all; "
        f"{_fmt(metrics.get('project_extract_cpu_ms_per_page'), ' ms', 1)} of CPU a page: "
        f"{_fmt(metrics.get('project_extract_cost_vs_plain'), 'x')} plain trafilatura's"
        + (f"; text exact on {100 * exact:.1f}% of pages)" if exact is not None else ")")
    )
    if metrics.get("politeness_floor_s"):
        out(
            f"  {'politeness floor of run 1 (busiest host)':<44} "
            f"{_fmt(metrics.get('politeness_floor_s')):>9} "
            f"{_fmt(metrics.get('politeness_rate_cap'), digits=1):>11}"
        )
        if metrics.get("politeness_bound"):
            out(
                "  run 1 is bound by politeness: it took less than 1.25 times the floor, so "
                "its rate says more about the per-host gap than about the machine"
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
    if facts.get("copies"):
        out(
            f"  copies in their original's story: {facts['copies_in_original_story']} of "
            f"{facts['copies']} ({100 * facts['copies_in_original_story'] / facts['copies']:.1f}%)"
        )


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
    web: Web | None = None,
    itemise: bool = False,
    profile_rate: int = PROFILE_RATE,
) -> dict[str, float]:
    """Run the whole benchmark once; return the flat metrics (seconds, rates, ratios).

    ``env`` adds variables to the ``ingest`` subprocesses (e.g.
    ``{"INGEST_HOST_GAP": "0"}``); ``results_dir`` gets ``e2e-<N>.json``;
    ``keep`` keeps the warehouses and registry in that directory. ``web``: a
    web to serve instead of ``NewsWeb(articles, sources)`` (the realistic web
    of ``realweb.py``); ``itemise``: one more cold run under py-spy, its CPU
    itemised per article (skipped, and said so, when py-spy is missing).
    """
    say: Callable[[str], None] = (lambda _s: None) if quiet else print
    if web is None:
        web = NewsWeb(articles, sources) if seed is None else NewsWeb(articles, sources, seed)
    articles, sources = len(web.articles), len(web.sources)
    stem = result_stem(articles, sources, web)
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    metrics: dict[str, float] = {}
    second: IngestRun | None = None
    itemised: dict[str, Any] | None = None
    profiled: IngestRun | None = None
    try:
        with NewsWebServer(web, gzip=gzip) as server:
            registry = workdir / "sources.toml"
            registry.write_text(web.sources_toml(), encoding="utf-8")
            warehouse = workdir / "warehouse.duckdb"
            home = prefect_home or workdir / "prefect-home"
            run_env = ingest_environment(server, home, env or {})
            settings = pipeline_settings(run_env)
            timeout = RUN_TIMEOUT_BASE + RUN_TIMEOUT_PER_ARTICLE * articles
            say(
                f"serving {articles} {'pages' if isinstance(web, RealWeb) else 'articles'} "
                f"from {sources} sources on {LOOPBACK}:{server.port}"
            )
            if prefect_home is None:
                metrics["prefect_db_init_s"] = init_prefect_home(home, run_env)
            if prerender:
                metrics["prerender_s"] = web.prerender()

            def ingest(n: int) -> IngestRun:
                metrics[f"load1_before_run{n}"] = os.getloadavg()[0]
                done = run_ingest(warehouse, registry, run_env, timeout=timeout)
                if not done.ok:
                    saved = done.save_log((results_dir or workdir) / f"{stem}-run{n}.log")
                    say(f"ingest run {n} failed (log: {saved}); its last lines:")
                    say("  " + "\n  ".join(done.log_tail))
                return done

            say("(1) ingest run --all-feeds ...")
            first = ingest(1)
            say("(4) second ingest run --all-feeds (all feeds should answer 304) ...")
            second = ingest(2)
            pairs = web.copy_pairs() if isinstance(web, RealWeb) else ()
            facts = warehouse_facts(warehouse, [first.run_id, second.run_id], pairs)
            requests = dict(server.requests)
            server.reset_counts()
            if itemise:
                say(
                    f"(5) ingest run --all-feeds under py-spy ({profile_rate} Hz), "
                    "into a fresh warehouse ..."
                )
                metrics["load1_before_profiled"] = os.getloadavg()[0]
                outcome = profiled_run(
                    workdir / "profiled.duckdb",
                    registry,
                    run_env,
                    timeout=timeout * 2,
                    rate=profile_rate,
                    workdir=workdir,
                )
                if outcome is None:
                    say("    py-spy is not installed (pip install 'py-spy>=0.4'): no itemisation")
                    itemised = {"skipped": "py-spy not installed"}
                else:
                    profiled, itemised = outcome
                    if not profiled.ok:
                        say("    the profiled run failed; its last lines:")
                        say("  " + "\n  ".join(profiled.log_tail))
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
            metrics["politeness_bound"] = float(bool(first.run_s and floor >= 0.8 * first.run_s))
        metrics["project_extract_ratio_e2e"] = rate / metrics["project_extract_all_rate"]
        if itemised and "total_ms_per_article" in itemised:
            metrics["cpu_total_ms"] = float(itemised["total_ms_per_article"])
            metrics["cpu_outside_extraction_ms"] = float(
                itemised["outside_extraction_ms_per_article"]
            )
            if itemised["total_ms_per_article"]:
                metrics["cpu_extraction_share"] = (
                    itemised["ms_per_article_by_category"]["extraction"]
                    / itemised["total_ms_per_article"]
                )
            for category, value in itemised["ms_per_article_by_category"].items():
                metrics[f"cpu_ms_{category.replace(' ', '_')}"] = float(value)
            if profiled is not None and profiled.run_s:
                metrics["profiled_rate"] = profiled.articles_loaded / profiled.run_s
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
            if itemised is not None and "ms_per_article" in itemised:
                say("")
                say(
                    "CPU itemised per article (run 5, under py-spy: "
                    f"{_fmt(metrics.get('profiled_rate'), digits=1)} "
                    f"articles/s after start-up; each process's CPU from /proc, shared by its "
                    f"samples; main = ingest main process, workers = extraction pool, server = "
                    f"Prefect's temporary server):"
                )
                for line in itemisation_lines(itemised):
                    say(line)
            elif itemised is not None and itemised.get("error"):
                say(f"CPU itemisation: {itemised['error']}")
        if results_dir is not None:
            results_dir.mkdir(parents=True, exist_ok=True)
            path = results_dir / f"{stem}.json"
            document = {
                "benchmark": "e2e",
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "git": _git_state(),
                "web": web.expected()
                | {"seed": web.seed, "kind": getattr(web, "kind", "generated")},
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
                }
                | (
                    {"profiled": {k: v for k, v in asdict(profiled).items() if k not in NOT_SAVED}}
                    if profiled is not None
                    else {}
                ),
                "cpu_itemised": itemised,
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
        "--web",
        choices=("generated", "realistic"),
        default="generated",
        help="generated: newsweb.py (N articles of invented text); realistic: realweb.py "
        "(the dev set's real pages and near-duplicate copies of them on S sources)",
    )
    parser.add_argument(
        "--articles",
        type=int,
        default=DEFAULT_ARTICLES,
        help="articles N of the generated web (default 1000)",
    )
    parser.add_argument(
        "--sources",
        type=int,
        default=None,
        help=f"sources S (default {DEFAULT_SOURCES}; realistic web: {realweb.DEFAULT_SOURCES})",
    )
    parser.add_argument(
        "--copies",
        type=int,
        default=realweb.DEFAULT_COPIES,
        help=f"realistic web: near-duplicate copies (default {realweb.DEFAULT_COPIES})",
    )
    parser.add_argument(
        "--copied",
        type=int,
        default=realweb.DEFAULT_COPIED,
        help=f"realistic web: originals that get copies (default {realweb.DEFAULT_COPIED})",
    )
    parser.add_argument(
        "--originals",
        type=int,
        default=None,
        help="realistic web: real pages used as originals (default: all 192)",
    )
    parser.add_argument(
        "--no-itemise",
        dest="itemise",
        action="store_false",
        help="skip the CPU itemisation (one more cold run under py-spy)",
    )
    parser.add_argument(
        "--profile-rate",
        type=int,
        default=PROFILE_RATE,
        help=f"py-spy samples a second of the itemised run (default {PROFILE_RATE})",
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
    web: Web | None = None
    sources = args.sources
    if args.web == "realistic":
        sources = sources or realweb.DEFAULT_SOURCES
        options: dict[str, Any] = {"copies": args.copies, "copied": args.copied}
        if args.originals is not None:
            options["originals"] = args.originals
        if args.seed is not None:
            options["seed"] = args.seed
        web = RealWeb(sources, **options)
    metrics = run_benchmark(
        args.articles,
        sources or DEFAULT_SOURCES,
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
        web=web,
        itemise=args.itemise,
        profile_rate=args.profile_rate,
    )
    return 1 if metrics.get("checks_failed") else 0


if __name__ == "__main__":
    raise SystemExit(main())
