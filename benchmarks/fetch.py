"""Fetcher benchmark: thousands of feeds and their pages on a loopback server.

A separate process serves N feeds spread over many virtual hosts (two feeds
per host, as a real registry spreads over publishers), each feed listing
`--items` pages, with a simulated latency per request (20 ms by default). In
one run it measures:

1. the fetcher (ingest.fetch.Fetcher with its default politeness: 2 requests in
   flight and 0.2 s between starts per origin, 64 in all): every feed, then
   every page, in bounded chunks so memory stays flat;
2. a sequential fetch of a sample of the same URLs with one plain httpx client
   (the obvious loop), for the rate ratio;
3. a second pass where every feed answers 304 (ETags from pass 1).

Prints feeds/s, pages/s, the ratio to sequential, the second pass as a share
of the first, and peak memory. Run: `python benchmarks/fetch.py` (defaults:
2,000 feeds, 20 items each, 20 ms latency); `--quick` for a small run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx

from ingest.fetch import Fetcher
from ingest.records import FetchKind
from ingest.settings import Settings

FEEDS_PER_HOST = 2
PAGE = b"<html><body>" + b"<p>Lorem ipsum dolor sit amet, news text.</p>" * 60 + b"</body></html>"


def host_name(i: int) -> str:
    return f"www.pub{i:05d}.test"


def feed_path(f: int) -> str:
    return f"/feed/{f}.xml"


def feed_body(f: int, items: int, port: int) -> bytes:
    host = host_name(f // FEEDS_PER_HOST)
    entries = "".join(
        f"<item><title>Story {f}-{j}</title><link>http://{host}:{port}/story/{f}/{j}</link>"
        f"<guid>{f}-{j}</guid></item>"
        for j in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {f}</title>'
        f"{entries}</channel></rss>"
    ).encode()


def serve(port_queue: multiprocessing.Queue[int], items: int, latency: float) -> None:
    """The loopback server (its own process): keep-alive HTTP/1.1, fixed latency."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("sockname")[1]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *rest = head.decode("latin-1").split("\r\n")
                path = line.split(" ")[1]
                inm = next(
                    (
                        h.split(":", 1)[1].strip()
                        for h in rest
                        if h.lower().startswith("if-none-match:")
                    ),
                    None,
                )
                await asyncio.sleep(latency)
                if path.startswith("/feed/"):
                    f = int(path.split("/")[2].split(".")[0])
                    body = feed_body(f, items, port)
                    etag = '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
                    if inm == etag:
                        writer.write(
                            b"HTTP/1.1 304 Not Modified\r\nETag: "
                            + etag.encode()
                            + b"\r\nContent-Length: 0\r\n\r\n"
                        )
                    else:
                        writer.write(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                            b"ETag: "
                            + etag.encode()
                            + b"\r\nContent-Length: "
                            + str(len(body)).encode()
                            + b"\r\n\r\n"
                            + body
                        )
                elif path == "/robots.txt":
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                else:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                        + str(len(PAGE)).encode()
                        + b"\r\n\r\n"
                        + PAGE
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port_queue.put(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


async def fetch_all(
    settings: Settings,
    urls: list[str],
    kind: FetchKind,
    etags: dict[str, str] | None = None,
    chunk: int = 4000,
) -> dict[str, object]:
    """Fetch in bounded chunks; keep only what the benchmark needs (no bodies)."""
    ok = not_modified = 0
    bodies_for: dict[str, bytes] = {}
    new_etags: dict[str, str] = {}
    async with Fetcher(settings) as fetcher:
        for i in range(0, len(urls), chunk):
            part = urls[i : i + chunk]
            results = await asyncio.gather(
                *(fetcher.get(u, kind, etag=(etags or {}).get(u)) for u in part)
            )
            for r in results:
                ok += r.outcome == "ok"
                not_modified += r.outcome == "not_modified"
                if kind is FetchKind.FEED and r.ok:
                    bodies_for[r.url] = r.body
                    new_etags[r.url] = r.headers.get("etag", "")
    return {"ok": ok, "not_modified": not_modified, "bodies": bodies_for, "etags": new_etags}


def sequential(urls: list[str], port: int) -> float:
    """The obvious loop: one client, one request after another."""
    started = time.perf_counter()
    with httpx.Client(timeout=10, trust_env=False) as client:
        for url in urls:
            host, _, path = url.removeprefix("http://").partition("/")
            r = client.get(f"http://127.0.0.1:{port}/{path}", headers={"Host": host})
            r.raise_for_status()
    return len(urls) / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--sequential-sample", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="200 feeds, 5 items each")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if args.quick:
        args.feeds, args.items, args.sequential_sample = 200, 5, 100

    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = ctx.Queue()
    server = ctx.Process(
        target=serve, args=(ports, args.items, args.latency_ms / 1000), daemon=True
    )
    server.start()
    try:
        port = ports.get(timeout=30)
        hosts = (args.feeds + FEEDS_PER_HOST - 1) // FEEDS_PER_HOST
        settings = replace(
            Settings(),
            allow_private_hosts=("127.0.0.1",),
            resolve={host_name(h): "127.0.0.1" for h in range(hosts)},
        )
        feed_urls = [
            f"http://{host_name(f // FEEDS_PER_HOST)}:{port}{feed_path(f)}"
            for f in range(args.feeds)
        ]
        # Item-major order: each chunk spans every host, as a run's pages do
        # when many feeds each have a few new entries.
        page_urls = [
            f"http://{host_name(f // FEEDS_PER_HOST)}:{port}/story/{f}/{j}"
            for j in range(args.items)
            for f in range(args.feeds)
        ]

        t0 = time.perf_counter()
        feeds = asyncio.run(fetch_all(settings, feed_urls, FetchKind.FEED))
        t1 = time.perf_counter()
        pages = asyncio.run(fetch_all(settings, page_urls, FetchKind.PAGE))
        t2 = time.perf_counter()
        etags = feeds["etags"]
        assert isinstance(etags, dict)
        again = asyncio.run(fetch_all(settings, feed_urls, FetchKind.FEED, etags=etags))
        t3 = time.perf_counter()
        sample = (
            feed_urls[: args.sequential_sample // 2]
            + page_urls[: args.sequential_sample - args.sequential_sample // 2]
        )
        seq_rate = sequential(sample, port)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        server.terminate()
        server.join()

    first = t2 - t0
    figures = {
        "feeds": args.feeds,
        "pages": len(page_urls),
        "latency_ms": args.latency_ms,
        "feeds_ok": feeds["ok"],
        "pages_ok": pages["ok"],
        "feeds_per_s": args.feeds / (t1 - t0),
        "pages_per_s": len(page_urls) / (t2 - t1),
        "requests_per_s": (args.feeds + len(page_urls)) / first,
        "sequential_per_s": seq_rate,
        "ratio_vs_sequential": (args.feeds + len(page_urls)) / first / seq_rate,
        "first_pass_s": first,
        "second_pass_s": t3 - t2,
        "second_pass_304": again["not_modified"],
        "second_over_first": (t3 - t2) / first,
        "peak_rss_mb": peak_mb,
    }
    rows = [
        ("feeds fetched", f"{figures['feeds_ok']}/{args.feeds}"),
        ("pages fetched", f"{figures['pages_ok']}/{len(page_urls)}"),
        ("feeds/s (fetcher)", f"{figures['feeds_per_s']:.0f}"),
        ("pages/s (fetcher)", f"{figures['pages_per_s']:.0f}"),
        ("requests/s sequential (same server)", f"{seq_rate:.1f}"),
        ("fetcher / sequential (target >= 20)", f"{figures['ratio_vs_sequential']:.1f}x"),
        ("first pass (feeds + pages)", f"{first:.1f} s"),
        ("second pass, all 304", f"{t3 - t2:.2f} s ({again['not_modified']} x 304)"),
        ("second / first (target < 0.05)", f"{figures['second_over_first']:.3f}"),
        ("peak RSS of the fetching process", f"{peak_mb:.0f} MB"),
    ]
    width = max(len(r[0]) for r in rows)
    print(
        f"fetch benchmark: {args.feeds} feeds x {args.items} items, "
        f"{args.latency_ms:g} ms latency, loopback"
    )
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
