"""Registry benchmark: a big registry whose feeds have nothing new, and warm runs.

A separate process serves F feeds (10,000) over H virtual hosts (1,000: ten
feeds a host) on 127.0.0.1, reached through ``INGEST_RESOLVE`` as the demo
and ``newsweb.py`` do. Each feed is a small RSS document with an ETag and a
Last-Modified; every ``--items-every``-th feed lists ``--items`` tiny pages,
the others none. The registry has one source per feed (10,000 sources).

1. ``ingest run --all-feeds`` learns every feed's validators (and robots.txt);
2. ``ingest run --all-feeds`` again, where every feed answers 304: the time
   after start-up (``runs.started_at`` to ``runs.finished_at``), the largest
   process's memory (VmHWM) and the whole tree's, and the Prefect task runs
   of that flow run (read from the benchmark's own Prefect home), against the
   targets (<= 60 s, <= 400 MB, task runs in the tens);
3. warm runs: ``ingest_feeds`` called three times in one long-lived process
   (as ``ingest serve`` runs its scheduled passes, in its own process, with
   Prefect's client, the server and the extraction workers kept up between runs):
   the first learns the validators of 100 feeds on 100 hosts, the next two
   find nothing new; the wall time of each call (target for the warm ones:
   <= 1 s), next to the cold ``ingest run`` of the same 100 feeds.

The per-host gap is the production default (``INGEST_HOST_GAP``, 0.2 s), so
the 304 pass cannot take less than the politeness floor, printed with it.

    python benchmarks/registry.py [--feeds 10000] [--hosts 1000] [--items-every 100]
        [--items 3] [--warm-feeds 100] [--skip-big] [--skip-warm] [--keep DIR]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from email.utils import formatdate
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from e2e import (  # noqa: E402
    IngestRun,
    init_prefect_home,
    prefect_environment,
    run_ingest,
    stop_on_sigterm,
)

LOOPBACK = "127.0.0.1"
TARGETS = {"pass_s": 60.0, "maxrss_mb": 400.0, "task_runs": 99, "warm_s": 1.0}
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)


def page(path: str) -> bytes:
    """A tiny article page of its own (copies would collapse into one row)."""
    return (
        f"<html><head><title>Story {path}</title></head><body><article><p>"
        + f"Story {path}, a short story on the benchmark's loopback web. " * 8
        + "</p></article></body></html>"
    ).encode()


def host_name(h: int) -> str:
    return f"www.hub{h:04d}.test"


def feed_host(f: int, hosts: int) -> int:
    """Feed ``f``'s host: feeds are dealt round the hosts (10 each for 10k over 1k)."""
    return f % hosts


def feed_body(f: int, host: str, port: int, items: int) -> bytes:
    entries = "".join(
        f"<item><title>Story {f}-{j}</title><link>http://{host}:{port}/story/{f}/{j}</link>"
        f"<guid>{f}-{j}</guid><pubDate>{LAST_MODIFIED}</pubDate>"
        f"<description>Story {f}-{j} of the benchmark feed {f}.</description></item>"
        for j in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {f}</title>'
        f"<link>http://{host}:{port}/</link><description>feed {f}</description>"
        f"{entries}</channel></rss>"
    ).encode()


def items_of(f: int, items_every: int, items: int) -> int:
    return items if items_every and f % items_every == 0 else 0


def serve(port_queue: Any, items_every: int, items: int, counts: Any, port: int = 0) -> None:
    """The loopback server (its own process): keep-alive HTTP/1.1, 304 on a
    matching If-None-Match, 404 for robots.txt. ``counts``: a shared array
    (feeds 200, feeds 304, pages, robots)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("sockname")[1]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *rest = head.decode("latin-1").split("\r\n")
                path = line.split(" ")[1]
                fields = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (h.partition(":") for h in rest if h)
                }
                host = fields.get("host", "").partition(":")[0]
                if path.startswith("/feeds/"):
                    f = int(path.rsplit("/", 1)[1].split(".")[0])
                    body = feed_body(f, host, port, items_of(f, items_every, items))
                    etag = '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
                    validators = f"ETag: {etag}\r\nLast-Modified: {LAST_MODIFIED}\r\n".encode()
                    if fields.get("if-none-match") == etag:
                        counts[1] += 1
                        writer.write(
                            b"HTTP/1.1 304 Not Modified\r\n"
                            + validators
                            + b"Content-Length: 0\r\n\r\n"
                        )
                    else:
                        counts[0] += 1
                        writer.write(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                            + validators
                            + b"Content-Length: "
                            + str(len(body)).encode()
                            + b"\r\n\r\n"
                            + body
                        )
                elif path == "/robots.txt":
                    counts[3] += 1
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                else:
                    counts[2] += 1
                    body = page(path)
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, LOOPBACK, port, backlog=4096)
        port_queue.put(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def feed_url(f: int, hosts: int, port: int) -> str:
    return f"http://{host_name(feed_host(f, hosts))}:{port}/feeds/{f:05d}.xml"


def registry_toml(feeds: Sequence[int], hosts: int, port: int) -> str:
    """One source per feed; each source's own domain (its feed sits on a shared
    host, as feeds on a feed service do)."""
    out = []
    for f in feeds:
        out.append(
            f'[[sources]]\nid = "src-{f:05d}"\nname = "Source {f}"\nkind = "publisher"\n'
            f'homepage = "https://src-{f:05d}.test/"\ndomains = ["src-{f:05d}.test"]\n'
            f'feeds = ["{feed_url(f, hosts, port)}"]\n'
        )
    return "\n".join(out)


def politeness_floor(feeds: Sequence[int], hosts: int, gap: float) -> tuple[int, float]:
    """(the busiest host's requests in a 304 pass, the least time they take
    ``gap`` seconds apart: the first starts at once)."""
    busiest = max(Counter(feed_host(f, hosts) for f in feeds).values())
    return busiest, (busiest - 1) * gap


def task_runs(prefect_home: Path, flow_run_id: str | None) -> dict[str, int]:
    """The Prefect task runs of one flow run, by task name, from the Prefect
    home's own database."""
    if not flow_run_id:
        return {}
    db = prefect_home / "prefect.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute(
            "SELECT name, flow_run_id FROM task_run WHERE flow_run_id IN (?, ?)",
            [flow_run_id, flow_run_id.replace("-", "")],
        ).fetchall()
    finally:
        con.close()
    return dict(Counter(str(name).rsplit("-", 1)[0] for name, _ in rows))


def warehouse_facts(warehouse: Path, run_id: str | None) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:

        def one(sql: str, params: Sequence[object] = ()) -> int:
            row = con.execute(sql, list(params)).fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return {
            "feeds": one("SELECT count(*) FROM feeds"),
            "feeds_with_etag": one("SELECT count(*) FROM feeds WHERE etag IS NOT NULL"),
            "feeds_with_next": one("SELECT count(*) FROM feeds WHERE next_fetch_at IS NOT NULL"),
            "feeds_304_last": one("SELECT count(*) FROM feeds WHERE last_status = 304"),
            "feeds_failing": one("SELECT count(*) FROM feeds WHERE consecutive_failures > 0"),
            "fetch_log_run": one("SELECT count(*) FROM fetch_log WHERE run_id = ?", [run_id]),
            "fetch_304_run": one(
                "SELECT count(*) FROM fetch_log WHERE run_id = ? AND outcome = 'not_modified'",
                [run_id],
            ),
            "articles": one("SELECT count(*) FROM articles"),
        }
    finally:
        con.close()


# ---------------------------------------------------------------------------
# Warm runs: the flow called again in one long-lived process
# ---------------------------------------------------------------------------

WARM_CODE = r"""
import asyncio, json, sys, time
t0 = time.monotonic()
from flows.ingest_feeds import ingest_feeds
from flows.tempserver import temporary_server
from ingest.settings import Settings
imported = time.monotonic() - t0
settings = Settings.from_env()

async def passes(n):
    walls = []
    for _ in range(n):
        started = time.monotonic()
        state = await ingest_feeds(all_feeds=True, settings=settings, return_state=True)
        walls.append(time.monotonic() - started)
        if not state.is_completed():
            raise SystemExit(f"run failed: {state.message}")
    return walls

if __name__ == "__main__":
    with temporary_server():
        walls = asyncio.run(passes(int(sys.argv[1])))
    print(json.dumps({"walls": walls, "import_s": imported}))
"""


def warm_runs(env: Mapping[str, str], calls: int, timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", WARM_CODE, str(calls)],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    last = (done.stdout.strip().splitlines() or ["{}"])[-1]
    try:
        out: dict[str, Any] = json.loads(last)
    except json.JSONDecodeError:
        out = {}
    if done.returncode:
        out["error"] = out.get("error") or (done.stderr or done.stdout)[-3000:]
    out["returncode"] = done.returncode
    return out


# ---------------------------------------------------------------------------


def _mark(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


def one_pass(
    label: str, warehouse: Path, sources: Path, env: Mapping[str, str], home: Path
) -> tuple[IngestRun, dict[str, int]]:
    started = time.monotonic()
    done = run_ingest(warehouse, sources, env, timeout=1800)
    tasks = task_runs(home, done.run_id)
    print(
        f"  {label}: exit {done.returncode}, {done.status}, wall {done.wall_s:.1f} s "
        f"(measured {time.monotonic() - started:.1f} s), after start-up "
        f"{(done.run_s or 0):.1f} s, start-up {(done.startup_s or 0):.1f} s, "
        f"largest process {done.maxrss_mb:.0f} MB, tree {done.tree_rss_peak_mb:.0f} MB, "
        f"{sum(tasks.values())} task runs"
    )
    if not done.ok:
        print("  last lines:\n    " + "\n    ".join(done.log_tail))
    return done, tasks


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--hosts", type=int, default=1_000)
    ap.add_argument("--items-every", type=int, default=100, help="every N-th feed has items")
    ap.add_argument("--items", type=int, default=3)
    ap.add_argument("--warm-feeds", type=int, default=100)
    ap.add_argument("--warm-calls", type=int, default=3)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-warm", action="store_true")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--keep", type=Path, help="keep the work directory here")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    stop_on_sigterm()

    from ingest.settings import Settings

    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    counts = ctx.Array("l", 4, lock=False)
    server = ctx.Process(
        target=serve, args=(ports, args.items_every, args.items, counts), daemon=True
    )
    server.start()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="ingest-registry-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {"feeds": args.feeds, "hosts": args.hosts}
    try:
        port = ports.get(timeout=60)
        home = workdir / "prefect-home"
        env = dict(os.environ)
        env.update(prefect_environment(home))
        env["INGEST_ALLOW_PRIVATE_HOSTS"] = LOOPBACK
        env["INGEST_RESOLVE"] = ",".join(f"{host_name(h)}={LOOPBACK}" for h in range(args.hosts))
        for pair in args.env:
            key, _, value = pair.partition("=")
            env[key] = value
        settings = Settings.from_env(env)
        gap = settings.host_gap_seconds
        print(f"loopback web on {LOOPBACK}:{port}; work directory {workdir}")
        figures["prefect_db_init_s"] = init_prefect_home(home, env)

        if not args.skip_big:
            feeds = list(range(args.feeds))
            busiest, floor = politeness_floor(feeds, args.hosts, gap)
            print(
                f"big registry: {args.feeds:,} feeds (one source each) over {args.hosts:,} hosts; "
                f"politeness floor of the 304 pass: {busiest} requests to the busiest host, "
                f"{gap:g} s apart = {floor:.1f} s"
            )
            sources = workdir / "sources.toml"
            sources.write_text(registry_toml(feeds, args.hosts, port), encoding="utf-8")
            warehouse = workdir / "big.duckdb"
            first, first_tasks = one_pass(
                "first pass (learns validators)", warehouse, sources, env, home
            )
            served = list(counts)
            second, tasks = one_pass("second pass (every feed 304)", warehouse, sources, env, home)
            served = [b - a for a, b in zip(served, counts, strict=True)]
            facts = warehouse_facts(warehouse, second.run_id)
            print(
                f"  server, second pass: {served[1]:,} x 304, {served[0]:,} x 200, "
                f"{served[2]:,} pages, {served[3]:,} robots.txt"
            )
            print(f"  task runs of the second pass: {dict(sorted(tasks.items()))}")
            print(f"  warehouse: {facts}")
            figures.update(
                {
                    "politeness_floor_s": floor,
                    "busiest_host_requests": busiest,
                    "first_ok": first.ok,
                    "first_wall_s": first.wall_s,
                    "first_run_s": first.run_s,
                    "first_maxrss_mb": first.maxrss_mb,
                    "first_task_runs": sum(first_tasks.values()),
                    "second_ok": second.ok,
                    "second_wall_s": second.wall_s,
                    "second_startup_s": second.startup_s,
                    "second_run_s": second.run_s,
                    "second_maxrss_mb": second.maxrss_mb,
                    "second_tree_rss_peak_mb": second.tree_rss_peak_mb,
                    "second_task_runs": sum(tasks.values()),
                    "second_task_runs_by_name": tasks,
                    "second_served": served,
                    "second_counts": second.counts,
                    "facts": facts,
                }
            )

        if not args.skip_warm:
            n = args.warm_feeds
            wfeeds = list(range(n))  # one feed a host while n <= hosts
            busiest, floor = politeness_floor(wfeeds, args.hosts, gap)
            print(
                f"warm runs: {n} feeds over {len({feed_host(f, args.hosts) for f in wfeeds})} "
                f"hosts (politeness floor {floor:.1f} s); nothing new after the first call"
            )
            wsources = workdir / "warm-sources.toml"
            wsources.write_text(registry_toml(wfeeds, args.hosts, port), encoding="utf-8")
            wenv = dict(env)
            wenv["INGEST_WAREHOUSE"] = str(workdir / "warm.duckdb")
            wenv["INGEST_SOURCES"] = str(wsources)
            wenv.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
            warm = warm_runs(wenv, args.warm_calls, timeout=900)
            cold, _ = one_pass(
                "cold `ingest run` of the same feeds (nothing new)",
                workdir / "warm.duckdb",
                wsources,
                env,
                home,
            )
            walls = warm.get("walls") or []
            if "error" in warm or warm.get("returncode"):
                print(f"  warm runs failed: {warm}")
            else:
                print(
                    "  calls in one process: "
                    + ", ".join(f"{w:.2f} s" for w in walls)
                    + f" (first learns validators; imports took {warm['import_s']:.1f} s)"
                )
            figures.update(
                {
                    "warm_walls_s": walls,
                    "warm_s": min(walls[1:]) if len(walls) > 1 else None,
                    "warm_s_first": walls[1] if len(walls) > 1 else None,
                    "cold_wall_s": cold.wall_s,
                    "cold_run_s": cold.run_s,
                    "cold_startup_s": cold.startup_s,
                }
            )
    finally:
        server.terminate()
        server.join()
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)

    print("\nagainst the targets:")
    if "second_run_s" in figures:
        run_s = figures["second_run_s"] or float("inf")
        print(
            f"  304 pass after start-up: {run_s:.1f} s (target <= {TARGETS['pass_s']:g} s; "
            f"floor {figures['politeness_floor_s']:.1f} s)  {_mark(run_s, TARGETS['pass_s'])}"
        )
        rss = figures["second_maxrss_mb"]
        print(
            f"  largest process: {rss:.0f} MB (target <= {TARGETS['maxrss_mb']:g} MB; "
            f"tree peak {figures['second_tree_rss_peak_mb']:.0f} MB)  "
            f"{_mark(rss, TARGETS['maxrss_mb'])}"
        )
        n_tasks = figures["second_task_runs"]
        print(
            f"  Prefect task runs: {n_tasks} (target: tens, <= {TARGETS['task_runs']})  "
            f"{_mark(n_tasks, TARGETS['task_runs'])}"
        )
    if figures.get("warm_s") is not None:
        warm_s = figures["warm_s_first"]
        print(
            f"  warm pass, {args.warm_feeds} feeds nothing new: {warm_s:.2f} s "
            f"(target <= {TARGETS['warm_s']:g} s)  {_mark(warm_s, TARGETS['warm_s'])}; "
            f"cold `ingest run`: {figures['cold_wall_s']:.1f} s wall, "
            f"{figures['cold_startup_s'] or 0:.1f} s of it start-up"
        )
    ok = figures.get("second_ok", True) and figures.get("first_ok", True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1, default=str))
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
