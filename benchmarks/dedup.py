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

import duckdb

from ingest import records
from ingest.near import fingerprint
from ingest.records import Candidate, Extracted, FeedEntry
from ingest.registry import parse_registry
from ingest.store import connection, load
from ingest.store import feeds as store_feeds

VOCAB = [
    f"{a}{b}"
    for a in ("ka", "lo", "mi", "ne", "pu", "ra", "si", "to", "vu", "ze")
    for b in range(600)
]
SOURCES = 50
BATCH = 1000
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


def generate(n: int, seed: int = 1) -> list[tuple[int, int, str, datetime]]:
    """(story, source, body, published) per article; copies reuse a story."""
    rng = random.Random(seed)
    out: list[tuple[int, int, str, datetime]] = []
    originals: list[int] = []
    for i in range(n):
        when = START + timedelta(minutes=10 * i)
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


def candidate(i: int, source: int, body: str, when: datetime, fp: object) -> Candidate:
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
    )  # type: ignore[arg-type]


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    args = ap.parse_args()
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
