"""Story clustering at scale: sign and cluster N generated articles.

Articles are generated from a fixed vocabulary with a seeded RNG (350 words
each); 15% are republished copies of an earlier article on another source
(headline changed, last paragraph cut, a credit line added). They are loaded
through the real load step (`ingest.store.load.write_batch`: exact dedup, LSH
candidate join against every earlier article in the warehouse, verification,
cluster refresh) in batches of 1,000, as runs would, into a DuckDB file.

Prints, per size: seconds to sign (fingerprint) per 1k articles, seconds to
cluster + load per 1k, the last batch's load time (how the join grows as the
warehouse fills), peak RSS, and the pairwise precision/recall of the clusters
against the generator's truth. Run: `python benchmarks/dedup.py --sizes 10000,100000`.

`--stored 10000,100000,1000000` measures instead how the near-duplicate lookup
grows with the history. For each size a new warehouse (a DuckDB file, or
with `--backend lake` a DuckLake on a SQLite catalog) is filled in SQL with
that many stored articles (the columns the load step reads, a one-word body)
and their 64 LSH bands (buckets drawn as MinHash values fall) over the year
before the new articles: `--in-window` of them (5,000, the same at every
size) in the last 37 days, the rest spread over the 11 months before, in
time order except `--disorder` of them (1%), placed anywhere in the year as
backfills and old publication dates are. Then `--batches` batches of 1,000
generated articles (15% copies, as above, dated the day before now) go
through the real load step, `load.write_batch`; the first (which builds
`recent_bands`) is not timed. Prints per size the fill time, the first load,
and per article of the timed batches the lookup (`stories.cluster_new`: exact
copies, the band join, fetching and verifying candidates) and the whole load,
then the ratio of the largest size to the smallest (target: <= 1.2).
`--no-recent` looks up every article in `article_bands`, as the load step did
before `recent_bands` (for comparison). Run:
`python benchmarks/dedup.py --stored 10000,100000,1000000` (5 to 15 minutes on
2 shared cores, most of it the 1M fill).
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ingest import records
from ingest.location import Lake, parse_warehouse
from ingest.near import BANDS, fingerprint
from ingest.records import Candidate, Extracted, FeedEntry, Fingerprint
from ingest.registry import parse_registry
from ingest.store import connection, load, stories
from ingest.store import feeds as store_feeds

VOCAB = [
    f"{a}{b}"
    for a in ("ka", "lo", "mi", "ne", "pu", "ra", "si", "to", "vu", "ze")
    for b in range(600)
]
SOURCES = 50
BATCH = 1000
WORDS = 350  # per generated article
START = datetime(2026, 1, 1, tzinfo=UTC)


def make_registry() -> object:
    return parse_registry(
        {
            "sources": [
                {
                    "id": f"s{i:02d}",
                    "name": f"Source {i}",
                    "kind": "publisher",
                    "homepage": f"https://www.s{i:02d}.example",
                    "domains": [f"s{i:02d}.example"],
                }
                for i in range(SOURCES)
            ]
        }
    )


def generate(
    n: int, seed: int = 1, start: datetime = START, step: timedelta = timedelta(minutes=10)
) -> list[tuple[int, int, str, datetime]]:
    """(story, source, body, published) per article; copies reuse a story."""
    rng = random.Random(seed)
    out: list[tuple[int, int, str, datetime]] = []
    originals: list[int] = []
    for i in range(n):
        when = start + step * i
        if originals and rng.random() < 0.15:
            k = rng.choice(originals[-2000:])  # copies follow their original within days
            story, source, body, _ = out[k]
            paras = body.split("\n\n")
            copy = "\n\n".join(paras[: max(2, len(paras) - 1)]) + "\n\n— Wire Service"
            out.append((story, (source + 1 + rng.randrange(SOURCES - 1)) % SOURCES, copy, when))
        else:
            paras = [" ".join(rng.choice(VOCAB) for _ in range(70)) for _ in range(5)]
            out.append((i, rng.randrange(SOURCES), "\n\n".join(paras), when))
            originals.append(i)
    return out


def candidate(i: int, source: int, body: str, when: datetime, fp: Fingerprint) -> Candidate:
    sid = f"s{source:02d}"
    url = f"https://www.{sid}.example/a/{i}"
    entry = FeedEntry(
        feed_id=f"f{sid}",
        source_id=sid,
        url=url,
        link=url,
        guid=str(i),
        title=f"Story {i}",
        summary=None,
        content=None,
        author=None,
        published_at=when,
        language="en",
    )
    ex = Extracted(body=body, extractor="bench", title=f"Story {i}", published_at=when)
    return Candidate(
        entry=entry,
        canonical_url=url,
        urls=(url,),
        extracted=ex,
        source_id=sid,
        wire_service=None,
        seen_at=when,
        fingerprint=fp,
    )


def run(n: int) -> dict[str, float]:
    items = generate(n)
    sign_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dedup.duckdb"
        load_s = 0.0
        last_batch_s = 0.0
        with connection.writer(path) as con:
            store_feeds.sync_registry(con, make_registry(), datetime.now(UTC))  # type: ignore[arg-type]
            for b in range(0, n, BATCH):
                t = time.perf_counter()
                fps = [fingerprint(body) for _, _, body, _ in items[b : b + BATCH]]
                sign_s += time.perf_counter() - t
                batch = records.LoadBatch(
                    f"run-{b}",
                    candidates=tuple(
                        candidate(i, src, body, when, fps[i - b])
                        for i, (_, src, body, when) in enumerate(items[b : b + BATCH], start=b)
                    ),
                )
                t = time.perf_counter()
                load.write_batch(con, batch)
                last_batch_s = time.perf_counter() - t
                load_s += last_batch_s
        con = duckdb.connect(str(path), read_only=True)
        got = dict(
            con.execute(
                "SELECT u.url, a.cluster_id FROM article_urls u JOIN articles a USING (article_id)"
            ).fetchall()
        )
        con.close()
    truth: dict[int, list[str]] = defaultdict(list)
    for i, (story, src, _, _) in enumerate(items):
        truth[story].append(f"https://www.s{src:02d}.example/a/{i}")
    tp = sum(
        1 for urls in truth.values() for a, b in itertools.combinations(urls, 2) if got[a] == got[b]
    )
    positives = sum(len(u) * (len(u) - 1) // 2 for u in truth.values())
    by_cluster: dict[str, int] = defaultdict(int)
    for c in got.values():
        by_cluster[c] += 1
    predicted = sum(k * (k - 1) // 2 for k in by_cluster.values())
    return {
        "articles": n,
        "sign_s_per_1k": sign_s / n * 1000,
        "cluster_load_s_per_1k": load_s / n * 1000,
        "last_batch_s": last_batch_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "precision": tp / max(1, predicted),
        "recall": tp / max(1, positives),
    }


# The stored history of --stored: its last WINDOW_SPAN before the new articles
# (the 30-day story window and the 7-day margin of recent_bands) holds
# --in-window articles, the rest of YEAR the others.
YEAR = timedelta(days=365)
WINDOW_SPAN = timedelta(days=37)


def fill(
    con: duckdb.DuckDBPyConnection, n: int, in_window: int, disorder: float, end: datetime
) -> None:
    """``n`` stored articles and their bands, generated in SQL (article ``i``
    is ``syn<i>``; bands appended in the order of ``i``)."""
    old = max(0, n - in_window)
    start = end - YEAR
    split = end - WINDOW_SPAN
    # story time of article i: the old ones evenly over [start, split), the
    # in-window ones over [split, end); a --disorder share anywhere in the year
    # (epoch seconds: to_timestamp is plain arithmetic, where adding an
    # interval to a TIMESTAMPTZ goes through the calendar, row by row)
    t0, t1, t2 = start.timestamp(), split.timestamp(), end.timestamp()
    when = f"""to_timestamp(CASE
        WHEN hash(i, 'disorder') % 1000000 < {int(disorder * 1_000_000)}
            THEN {t0} + (hash(i, 'when') % 1000000) * {(t2 - t0) / 1e6}
        WHEN i < {old} THEN {t0} + i * {(t1 - t0) / max(1, old)}
        ELSE {t1} + (i - {old}) * {(t2 - t1) / max(1, n - old)}
        END)"""
    con.execute(f"""
        INSERT INTO articles (article_id, canonical_url, url, source_id, body, published_at,
                              word_count, content_hash, cluster_id, extractor, first_seen_at,
                              last_seen_at)
        SELECT 'syn' || i, 'https://www.s00.example/syn/' || i, 'https://www.s00.example/syn/' || i,
               's' || lpad((i % {SOURCES})::VARCHAR, 2, '0'), 'synthetic', story_at, 1,
               md5('syn' || i), 'syn' || i, 'bench', story_at, story_at
        FROM (SELECT i, {when} AS story_at FROM range({n}) t(i))
    """)
    # one row per (article, band), in article order: r = 64 * i + band. A
    # bucket packs two MinHash values, each the least of a text's ~350
    # shingle hashes: about 2^32 / 350 times an exponential draw, as real
    # buckets are (uniform ones would fall outside the new bands' bucket
    # range, which DuckDB's join filter checks before the join)
    value = (
        "least(2147483647, floor(-ln((hash(r, {k}) % 1000000007 + 1) / 1000000008.0) * {scale}))"
    )
    first, second = (value.format(k=k, scale=2**32 / WORDS) for k in (1, 2))
    con.execute(f"""
        INSERT INTO article_bands
        SELECT (r % {BANDS})::SMALLINT, ({first} * 4294967296 + {second})::BIGINT,
               'syn' || i, {when}
        FROM (SELECT r, r // {BANDS} AS i FROM range({n * BANDS}) t(r))
    """)


def run_stored(
    n: int, *, batches: int, in_window: int, disorder: float, backend: str, recent: bool
) -> dict[str, float]:
    """Load ``batches`` batches into a warehouse holding ``n`` synthetic articles."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    items = generate(BATCH * batches, seed=2, start=end, step=timedelta(seconds=10))
    lookup_s = 0.0
    real_cluster_new = stories.cluster_new
    real_advance = stories._advance_horizon

    def timed_cluster_new(*args: Any, **kwargs: Any) -> Any:
        nonlocal lookup_s
        t = time.perf_counter()
        try:
            return real_cluster_new(*args, **kwargs)
        finally:
            lookup_s += time.perf_counter() - t

    vars(load)["cluster_new"] = timed_cluster_new  # load calls it by this name
    if not recent:
        vars(stories)["_advance_horizon"] = lambda *args: None  # no horizon: article_bands
    try:
        with tempfile.TemporaryDirectory() as tmp:
            where: Path | Lake = (
                Path(tmp) / "dedup.duckdb"
                if backend == "file"
                else parse_warehouse(f"ducklake:sqlite:{tmp}/dedup.sqlite")
            )
            with connection.writer(where) as con:
                store_feeds.sync_registry(con, make_registry(), datetime.now(UTC))  # type: ignore[arg-type]
                t = time.perf_counter()
                with connection.transaction(con):
                    fill(con, n, in_window, disorder, end)
                if backend == "file":
                    con.execute("CHECKPOINT")
                fill_s = time.perf_counter() - t
                load_s = first_s = 0.0
                for b in range(0, len(items), BATCH):
                    fps = [fingerprint(body) for _, _, body, _ in items[b : b + BATCH]]
                    batch = records.LoadBatch(
                        f"run-{b}",
                        candidates=tuple(
                            candidate(n + i, src, body, when, fps[i - b])
                            for i, (_, src, body, when) in enumerate(items[b : b + BATCH], start=b)
                        ),
                    )
                    if b == 0:
                        t = time.perf_counter()
                        load.write_batch(con, batch)
                        first_s = time.perf_counter() - t
                        lookup_s = 0.0
                        continue
                    t = time.perf_counter()
                    load.write_batch(con, batch)
                    load_s += time.perf_counter() - t
                counts = dict(
                    con.execute(
                        "SELECT 'article_bands', count(*) FROM article_bands UNION ALL "
                        "SELECT 'recent_bands', count(*) FROM recent_bands"
                    ).fetchall()
                )
    finally:
        vars(load)["cluster_new"] = real_cluster_new
        vars(stories)["_advance_horizon"] = real_advance
    timed = BATCH * (batches - 1)
    return {
        "stored": n,
        "fill_s": fill_s,
        "first_load_s": first_s,
        "lookup_ms": lookup_s / timed * 1000,
        "load_ms": load_s / timed * 1000,
        "article_bands": counts["article_bands"],
        "recent_bands": counts["recent_bands"],
    }


def main_stored(args: argparse.Namespace) -> None:
    print(
        f"backend {args.backend}, {args.in_window} stored articles in the last 37 days, "
        f"{args.disorder:.1%} out of time order, {args.batches - 1} timed batches of {BATCH}, "
        f"lookup in {'recent_bands' if args.recent else 'article_bands only'}"
    )
    print(
        f"{'stored':>9} {'fill s':>7} {'first load s':>13} {'lookup ms/art':>14} "
        f"{'load ms/art':>12} {'article_bands':>14} {'recent_bands':>13}"
    )
    rows = []
    for n in (int(x) for x in args.stored.split(",")):
        r = run_stored(
            n,
            batches=args.batches,
            in_window=args.in_window,
            disorder=args.disorder,
            backend=args.backend,
            recent=args.recent,
        )
        rows.append(r)
        print(
            f"{r['stored']:>9} {r['fill_s']:>7.1f} {r['first_load_s']:>13.2f} "
            f"{r['lookup_ms']:>14.3f} {r['load_ms']:>12.3f} {r['article_bands']:>14} "
            f"{r['recent_bands']:>13}",
            flush=True,
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(
            f"ratio {last['stored']}/{first['stored']} per article: "
            f"lookup {last['lookup_ms'] / first['lookup_ms']:.2f}, "
            f"load {last['load_ms'] / first['load_ms']:.2f} (target <= 1.2)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--stored", help="stored article counts, e.g. 10000,100000,1000000")
    ap.add_argument("--in-window", type=int, default=5000)
    ap.add_argument("--disorder", type=float, default=0.01)
    ap.add_argument("--batches", type=int, default=4, help="batches of 1,000 (first untimed)")
    ap.add_argument("--backend", choices=("file", "lake"), default="file")
    ap.add_argument("--no-recent", dest="recent", action="store_false")
    args = ap.parse_args()
    if args.stored:
        main_stored(args)
        return
    print(
        f"{'articles':>9} {'sign s/1k':>10} {'cluster+load s/1k':>18} {'last batch s':>13} "
        f"{'peak RSS MB':>12} {'precision':>10} {'recall':>7}"
    )
    for n in (int(x) for x in args.sizes.split(",")):
        r = run(n)
        print(
            f"{r['articles']:>9} {r['sign_s_per_1k']:>10.2f} {r['cluster_load_s_per_1k']:>18.2f} "
            f"{r['last_batch_s']:>13.2f} {r['peak_rss_mb']:>12.0f} {r['precision']:>10.4f} "
            f"{r['recall']:>7.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
