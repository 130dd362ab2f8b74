"""Search at scale: index build and update time, and query latency, on a
synthetic warehouse of N articles (default 100,000) in five languages.

Articles are drawn from a Zipf-distributed vocabulary per language (real
words, so the stemmers do real work), 120-400 words each, with titles; a
tenth of them in Chinese (bigram tokens). The script:

1. builds the index from nothing (``search.update_index``, rebuild);
2. adds 1,000 articles and revises 100 in the warehouse, and times the update
   a run would do;
3. runs a fixed set of queries (one to three words, OR, exclusions, phrases,
   filters, CJK) 5 times each and reports the median and 95th percentile
   latency; the baseline in the same run is the ``fts`` extension's own
   ``match_bm25`` over the same index for the same words (no logic, no
   filters, no snippets), as a ratio.

    python benchmarks/search.py [--articles 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent / "src"))

from ingest import search  # noqa: E402
from ingest.store import connection, extensions  # noqa: E402

WORDS = {
    "en": "the of and to in a is that for it on was with as by at from election council "
    "harbour storm government minister police court market energy climate health school "
    "football vaccine budget strike flood fire bridge train airport hospital election "
    "president parliament economy inflation bank company workers union protest report",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein Regierung "
    "Wahl Hafen Sturm Gericht Markt Energie Klima Gesundheit Schule Impfstoff Haushalt "
    "Streik Hochwasser Brücke Bahn Flughafen Krankenhaus Parlament Wirtschaft Inflation",
    "fr": "de la le et les des en un du une que est pour qui dans par sur gouvernement élection "
    "port tempête ministre police tribunal marché énergie climat santé école vaccin budget "
    "grève inondation pont train aéroport hôpital parlement économie inflation banque",
    "es": "de la que el en y a los se del las un por con no una su para es gobierno elecciones "
    "puerto tormenta ministro policía tribunal mercado energía clima salud escuela vacuna "
    "presupuesto huelga inundación puente tren aeropuerto hospital parlamento economía",
    "zh": "政府 选举 港口 风暴 部长 警察 法院 市场 能源 气候 健康 学校 疫苗 预算 罢工 洪水 "
    "大桥 火车 机场 医院 议会 经济 通胀 银行 公司 工人 工会 抗议 报告 的 了 在 是 和",
}
QUERIES = [
    ("harbour", {}),
    ("storm flood", {}),
    ("election parliament government", {}),
    ("strike OR protest", {}),
    ("vaccine -school", {}),
    ('"climate report"', {}),
    ("Regierung Wahl", {"language": "de"}),
    ("grève", {}),
    ("huelga tren", {}),
    ("疫苗", {}),
    ("election", {"since": "2026-06-01"}),
    ("council budget", {"sources": ("s7", "s8", "s9")}),
]


def sentence(rng: random.Random, words: list[str], n: int) -> str:
    picks = rng.choices(words, weights=[1 / (i + 1) for i in range(len(words))], k=n)
    sep = "" if words is ZH else " "
    return sep.join(picks)


ZH = WORDS["zh"].split()


def articles(n: int, rng: random.Random, start: int = 0) -> pa.Table:
    langs = ["en", "de", "fr", "es", "zh"]
    weights = [4, 2, 2, 1, 1]
    split = {lang: (ZH if lang == "zh" else WORDS[lang].split()) for lang in langs}
    rows: dict[str, list[object]] = {k: [] for k in ("id", "lang", "title", "body", "src", "day")}
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(start, start + n):
        lang = rng.choices(langs, weights)[0]
        words = split[lang]
        rows["id"].append(f"a{i:07d}")
        rows["lang"].append(lang)
        rows["title"].append(sentence(rng, words, rng.randint(5, 10)))
        body = " ".join(sentence(rng, words, rng.randint(8, 20)) for _ in range(rng.randint(8, 25)))
        rows["body"].append(body)
        rows["src"].append(f"s{rng.randrange(100)}")
        rows["day"].append(base + timedelta(minutes=rng.randrange(365 * 24 * 60)))
    return pa.table(rows)


def load(wh: Path, table: pa.Table, seen: datetime) -> None:
    with connection.writer(wh) as con:
        con.register("new_rows", table)
        con.execute(
            """INSERT INTO articles (article_id, canonical_url, url, source_id, title, body,
                   published_at, language, word_count, content_hash, cluster_id, extractor,
                   first_seen_at, last_seen_at)
               SELECT id, 'https://' || src || '.example/' || id,
                   'https://' || src || '.example/' || id,
                   src, title, body, day, lang, 0, id, id, 'bench', ?, ?
               FROM new_rows""",
            [seen, seen],
        )
        con.execute(
            """INSERT INTO clusters (cluster_id, origin_article_id, origin_source_id, size)
               SELECT id, id, src, 1 FROM new_rows"""
        )


PLAIN = (
    "SELECT article_id, fts_main_docs.match_bm25(article_id, ?) AS s FROM docs "
    "WHERE s IS NOT NULL ORDER BY s DESC LIMIT 20"
)


def timed(fn, repeat: int = 5) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"search benchmark: {args.articles:,} articles, seed {args.seed}")
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        wh, path = Path(tmp) / "wh.duckdb", Path(tmp) / "search" / "index.duckdb"
        t0 = datetime(2026, 11, 1, tzinfo=UTC)
        began = time.perf_counter()
        load(wh, articles(args.articles, rng), t0)
        print(f"warehouse filled in {time.perf_counter() - began:.1f} s")
        began = time.perf_counter()
        built = search.update_index(wh, path, rebuild=True)
        build = time.perf_counter() - began
        size = path.stat().st_size / 1e6
        print(f"index build: {built.total:,} articles in {build:.1f} s ({size:.0f} MB)")
        load(wh, articles(1000, rng, start=args.articles), t0 + timedelta(hours=1))
        with connection.writer(wh) as con:
            con.execute(
                "UPDATE articles SET body = body || ' revised', updated_at = ? WHERE article_id "
                "IN (SELECT article_id FROM articles ORDER BY article_id LIMIT 100)",
                [t0 + timedelta(hours=1)],
            )
        began = time.perf_counter()
        update = search.update_index(wh, path)
        took = time.perf_counter() - began
        print(f"update after a run (1,000 new, 100 revised): {update.indexed:,} in {took:.1f} s")

        con = duckdb.connect(str(path), read_only=True)
        extensions.load(con, "fts")
        ours: list[float] = []
        plain: list[float] = []
        for text, spec in QUERIES:
            filters = search.Filters(
                since=datetime.fromisoformat(spec["since"]).date() if "since" in spec else None,
                sources=tuple(spec.get("sources", ())),
                language=spec.get("language"),
            )
            ours += timed(lambda text=text, filters=filters: search.search(path, text, filters, 20))
            words = " ".join(
                w for w in text.replace('"', " ").split() if w != "OR" and not w.startswith("-")
            )
            plain += timed(lambda words=words: con.execute(PLAIN, [words]).fetchall())
        con.close()
        median, base = statistics.median(ours), statistics.median(plain)
        print(
            f"query latency over {len(QUERIES)} queries x 5: median {median * 1000:.0f} ms, "
            f"p95 {p95(ours) * 1000:.0f} ms (target < 200 ms); plain match_bm25 median "
            f"{base * 1000:.0f} ms: ratio {median / base:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
