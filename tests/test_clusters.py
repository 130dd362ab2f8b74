"""Quality gate for story clusters and wire attribution on the labelled set.

tests/fixtures/clusters holds original, fictional articles: wire stories with
realistic republished copies, publisher stories with sister-title copies, and
hard negatives (different stories on the same event, one press release quoted
differently, template briefs, wires named in reported speech). The set is
loaded through the real load step in four batches, as four runs would, and
pairwise precision/recall of the clustering and the wire attribution accuracy
are gated. A false merge of distinct stories is the worst error, hence the
precision floor.
"""

from __future__ import annotations

import itertools
import json
import random
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingest import records
from ingest.attribute import WireMatcher
from ingest.location import parse_warehouse
from ingest.near import fingerprint
from ingest.records import Candidate, Extracted, FeedEntry
from ingest.registry import Registry, parse_registry
from ingest.store import connection, load, stories
from ingest.store import feeds as store_feeds

FIXTURES = Path(__file__).parent / "fixtures" / "clusters"
PRECISION_FLOOR = 0.99
RECALL_FLOOR = 0.95
WIRE_ACCURACY_FLOOR = 0.97


def load_items() -> list[dict[str, Any]]:
    lines = (FIXTURES / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def registry() -> Registry:
    return parse_registry(tomllib.loads((FIXTURES / "sources.toml").read_text()), "eval")


def candidate(item: dict[str, Any], reg: Registry, matcher: WireMatcher) -> Candidate:
    source = reg.get(item["source_id"])
    assert source is not None
    url = f"https://www.{source.domains[0]}/{item['id']}"
    published = datetime.fromisoformat(item["published_at"]).astimezone(UTC)
    entry = FeedEntry(
        feed_id=f"feed-{source.source_id}",
        source_id=source.source_id,
        url=url,
        link=url,
        guid=item["id"],
        title=item["title"],
        summary=None,
        content=None,
        author=item["author"],
        published_at=published,
        language=item["language"],
    )
    ex = Extracted(
        body=item["body"],
        extractor="eval",
        title=item["title"],
        author=item["author"],
        published_at=published,
        language=item["language"],
    )
    wire = matcher.match(item["body"], item["author"])
    return Candidate(
        entry=entry,
        canonical_url=url,
        urls=(url,),
        extracted=ex,
        source_id=source.source_id,
        wire_service=None if wire == source.source_id else wire,
        seen_at=published,
        fingerprint=fingerprint(item["body"]),
    )


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str | None]], Path]:
    items = load_items()
    reg = registry()
    matcher = WireMatcher(reg)
    order = list(items)
    random.Random(7).shuffle(order)  # copies arrive before and after their originals
    path = Path(tmp_path_factory.mktemp("clusters")) / "eval.duckdb"
    with connection.writer(path) as con:
        store_feeds.sync_registry(con, reg, datetime.now(UTC))
        for i in range(4):
            batch = records.LoadBatch(
                f"run-{i}", candidates=tuple(candidate(it, reg, matcher) for it in order[i::4])
            )
            load.write_batch(con, batch)
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute("SELECT url, cluster_id, wire_service FROM articles").fetchall()
    con.close()
    by_id = {url.rsplit("/", 1)[1]: (cluster, wire) for url, cluster, wire in rows}
    return items, by_id, path


def pairwise(
    items: list[dict[str, Any]], got: dict[str, tuple[str, str | None]]
) -> tuple[float, float, list[tuple[str, str]], list[tuple[str, str]]]:
    tp = fp = fn = 0
    false_merges, missed = [], []
    for a, b in itertools.combinations(items, 2):
        same_truth = a["story"] == b["story"]
        same_got = got[a["id"]][0] == got[b["id"]][0]
        tp += same_truth and same_got
        if same_got and not same_truth:
            fp += 1
            false_merges.append((a["id"], b["id"]))
        if same_truth and not same_got:
            fn += 1
            missed.append((a["id"], b["id"]))
    return tp / max(1, tp + fp), tp / max(1, tp + fn), false_merges, missed


def test_every_item_loaded(loaded: Any) -> None:
    items, got, _ = loaded
    assert len(got) == len(items)


def test_cluster_precision_and_recall(loaded: Any) -> None:
    items, got, _ = loaded
    precision, recall, false_merges, missed = pairwise(items, got)
    print(
        f"pairwise precision {precision:.4f} recall {recall:.4f} "
        f"({len(false_merges)} false merges, {len(missed)} missed pairs)"
    )
    assert precision >= PRECISION_FLOOR, false_merges[:10]
    assert recall >= RECALL_FLOOR, missed[:10]


def test_wire_attribution_accuracy(loaded: Any) -> None:
    items, got, _ = loaded
    wrong = [
        (it["id"], it["wire"], got[it["id"]][1]) for it in items if it["wire"] != got[it["id"]][1]
    ]
    accuracy = 1 - len(wrong) / len(items)
    print(f"wire attribution accuracy {accuracy:.4f}; wrong: {wrong}")
    assert accuracy >= WIRE_ACCURACY_FLOOR, wrong


def test_story_origin_is_the_wire(loaded: Any) -> None:
    items, got, path = loaded
    con = duckdb.connect(str(path), read_only=True)
    origins = dict(con.execute("SELECT cluster_id, origin_source_id FROM clusters").fetchall())
    con.close()
    wires = {s.source_id for s in registry().wires()}
    for story, group in itertools.groupby(
        sorted(items, key=lambda i: i["story"]), key=lambda i: i["story"]
    ):
        members = list(group)
        if any(m["source_id"] in wires for m in members):
            cluster = got[members[0]["id"]][0]
            assert origins[cluster] in wires, story


def _load_dated(
    tmp: Path, backend: str, batches: list[list[dict[str, Any]]]
) -> tuple[dict[str, str], set[str]]:
    """Load the batches; the clusters by item id, and the article ids that
    have bands in recent_bands (checked to be exactly the bands of
    article_bands from the horizon on)."""
    reg = registry()
    matcher = WireMatcher(reg)
    tmp.mkdir(parents=True)
    where = (
        tmp / "wh.duckdb"
        if backend == "file"
        else parse_warehouse(f"ducklake:sqlite:{tmp}/wh.sqlite")
    )
    with connection.writer(where) as con:
        store_feeds.sync_registry(con, reg, datetime.now(UTC))
        for i, items in enumerate(batches):
            batch = records.LoadBatch(
                f"run-{i}", candidates=tuple(candidate(it, reg, matcher) for it in items)
            )
            load.write_batch(con, batch)
        clusters = con.execute("SELECT url, cluster_id FROM articles").fetchall()
        horizon = stories._horizon(con)
        if horizon is not None:
            for a, b in (("article_bands", "recent_bands"), ("recent_bands", "article_bands")):
                query = f"SELECT * FROM {a} WHERE story_at >= ? EXCEPT ALL SELECT * FROM {b}"
                assert con.execute(query, [horizon]).fetchall() == []
        recent = con.execute(
            "SELECT DISTINCT a.url FROM recent_bands JOIN articles a USING (article_id)"
        ).fetchall()
    return (
        {url.rsplit("/", 1)[1]: cluster for url, cluster in clusters},
        {url.rsplit("/", 1)[1] for (url,) in recent},
    )


@pytest.mark.parametrize("backend", ["file", "lake"])
def test_recent_bands_bound_the_lookup_and_keep_the_clusters(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live batch looks up only the bands from the horizon on (the story
    window and a week before the newest article loaded): an article older
    than that has no bands in recent_bands, and the clusters are those of a
    lookup over every stored band. A third of the stories are a backfill 200
    days older, loaded between live batches, and find their copies in
    article_bands."""
    items = load_items()
    newest = max(datetime.fromisoformat(i["published_at"]) for i in items)
    latest = datetime.now(UTC) - timedelta(days=1)
    shift = latest - newest
    old_stories = {i["story"] for i in items[::3]}
    dated = [
        {
            **it,
            "published_at": (
                datetime.fromisoformat(it["published_at"])
                + shift
                - timedelta(days=200 if it["story"] in old_stories else 0)
            ).isoformat(),
        }
        for it in items
    ]
    dated.sort(key=lambda i: str(datetime.fromisoformat(i["published_at"]).astimezone(UTC)))
    live = [i for i in dated if i["story"] not in old_stories]
    backfill = [i for i in dated if i["story"] in old_stories]
    half = len(live) // 2
    # the live batches' newest articles are weeks apart: the horizon moves on
    # between them and recent_bands drops the bands it passed
    batches = [live[:half], backfill[::2], live[half:], backfill[1::2]]
    looked_up: dict[str, set[str]] = {"recent_bands": set(), "article_bands": set()}
    band_pairs = stories._band_pairs

    def spy(con: Any, table: str, items: Any, window_days: int) -> Any:
        looked_up[table] |= {i.article_id for i in items}
        return band_pairs(con, table, items, window_days)

    monkeypatch.setattr(stories, "_band_pairs", spy)
    got, recent = _load_dated(tmp_path / "recent", backend, batches)
    # the backfill is looked up in article_bands, the newest live articles in
    # recent_bands only
    assert looked_up["recent_bands"]
    assert not looked_up["recent_bands"] & looked_up["article_bands"]
    horizon = latest - timedelta(days=30) - stories.RECENT_MARGIN
    assert recent, "the live articles of the last weeks are looked up in recent_bands"
    assert recent <= {
        i["id"] for i in dated if datetime.fromisoformat(i["published_at"]) >= horizon
    }
    # the same batches, every article looked up in article_bands
    monkeypatch.setattr(stories, "_advance_horizon", lambda *args: None)
    everything, _ = _load_dated(tmp_path / "all", backend, batches)
    assert got == everything
    precision, recall, false_merges, missed = pairwise(
        items, {k: (c, None) for k, c in got.items()}
    )
    assert precision >= PRECISION_FLOOR, false_merges[:10]
    assert recall >= RECALL_FLOOR, missed[:10]
