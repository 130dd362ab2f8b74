"""Many writers on one DuckLake with a PostgreSQL catalog, end to end: two
``ingest run`` processes and one ``ingest backfill`` load the lake at once,
one of them is killed with SIGKILL on the way, a query loop reads the whole
time (and a DuckDB client holds the lake open). After the killed command is
run again, the lake equals a single writer's (articles, stories, sightings).

The kill moment comes from a printed seed (INGEST_KILL_SEED replays it).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from pathlib import Path

import pytest
from tests.pgcluster import Cluster
from tests.test_backfill import SINCE, UNTIL
from tests.test_kill_trials import kill_at, run, seed, trial_env

from ingest.demo.server import SiteServer
from ingest.location import Lake
from ingest.store import connection, read

pytestmark = pytest.mark.slow

ARTICLES = (
    "SELECT canonical_url, source_id, title, content_hash, word_count, body_status, "
    "wire_service, published_at FROM articles ORDER BY canonical_url"
)
STORIES = (
    "SELECT list(canonical_url ORDER BY canonical_url) AS urls FROM articles "
    "GROUP BY cluster_id ORDER BY urls"
)
SIGHTINGS = (
    "SELECT DISTINCT a.canonical_url, s.feed_id, s.source_id FROM sightings s "
    "JOIN articles a USING (article_id) ORDER BY ALL"
)


def state(lake: Lake) -> dict[str, list[tuple[object, ...]]]:
    return {sql: read.query(lake, sql).rows for sql in (ARTICLES, STORIES, SIGHTINGS)}


class QueryLoop(threading.Thread):
    """Reads the lake over and over while the writers run."""

    def __init__(self, lake: Lake) -> None:
        super().__init__(daemon=True)
        self.lake = lake
        self.stop = threading.Event()
        self.took: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                read.query(self.lake, "SELECT count(*) FROM articles", wait=0.5)
            except connection.WarehouseError as exc:
                self.errors.append(str(exc))
            self.took.append(time.monotonic() - began)
            time.sleep(0.05)


def test_runs_and_a_backfill_load_one_postgres_lake_at_once_one_killed(
    site: SiteServer, tmp_path: Path, prefect_server: str, postgres: Cluster
) -> None:
    rng = random.Random(seed())
    base = trial_env(site, tmp_path, prefect_server, history=True, pause=0.1)
    poll, backfill = ["run"], ["backfill", "--since", SINCE, "--until", UNTIL]

    def lake_env(name: str) -> tuple[Lake, dict[str, str]]:
        database = f"{name}_{uuid.uuid4().hex[:8]}"
        lake = Lake("postgres", postgres.create_database(database), f"{tmp_path}/{name}-data/")
        return lake, {**base, "INGEST_WAREHOUSE": lake.uri, "INGEST_DATA_PATH": lake.data_path}

    reference, ref_env = lake_env("reference")
    took = run(poll, ref_env) + run(backfill, ref_env)
    expected = state(reference)
    assert expected[ARTICLES], "the single writer stored nothing"

    shared, env = lake_env("shared")
    run(["sources", "list"], env)  # nothing written: the lake is created by the first writer
    loop = QueryLoop(shared)
    client: object = None
    results: dict[str, object] = {}

    def writer(name: str, args: list[str], kill_after: float | None) -> None:
        if kill_after is None:
            results[name] = run(args, env)
        else:
            results[name] = kill_at(args, env, kill_after)

    victim = rng.choice(["run-b", "backfill"])
    after = rng.uniform(1.0, max(1.5, took / 2))
    print(f"killing {victim} after {after:.2f}s")
    threads = [
        threading.Thread(target=writer, args=(n, a, after if n == victim else None))
        for n, a in (("run-a", poll), ("run-b", poll), ("backfill", backfill))
    ]
    threads[0].start()
    deadline = time.monotonic() + 120
    while True:  # once the first writer has made the lake, a client opens it and holds it
        try:
            client = connection.connect_lake(shared, read_only=True)
            client.execute("SELECT count(*) FROM articles")  # type: ignore[attr-defined]
            break
        except Exception:
            if client is not None:
                client.close()  # type: ignore[attr-defined]
                client = None
            assert time.monotonic() < deadline, "the first writer made no lake"
            time.sleep(0.2)
    client.execute("BEGIN")  # type: ignore[attr-defined]
    loop.start()
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(timeout=600)
    loop.stop.set()
    loop.join(timeout=60)
    client.execute("COMMIT")  # type: ignore[attr-defined]
    client.close()  # type: ignore[attr-defined]
    print(f"writers: {results}")
    run(poll if victim == "run-b" else backfill, env)  # the killed command, again
    assert not loop.errors, loop.errors[:3]
    assert len(loop.took) > 10
    took_sorted = sorted(loop.took)
    print(
        f"{len(took_sorted)} queries, median {took_sorted[len(took_sorted) // 2]:.3f}s, "
        f"max {took_sorted[-1]:.3f}s"
    )
    # a reader takes no lock: no query waited for a load (generous for a busy machine)
    assert took_sorted[-1] < 10
    got = state(shared)
    for sql in (ARTICLES, STORIES, SIGHTINGS):
        assert got[sql] == expected[sql], sql
