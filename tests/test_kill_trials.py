"""kill -9 at seeded pseudo-random moments of `ingest run` and `ingest
backfill`, each followed by a re-run: the warehouse ends equal to an
uninterrupted run's (articles, bodies, story clusters; sightings may differ
by poll), and no process of the killed command is left behind.

The seed is printed; set INGEST_KILL_SEED to replay a failing series.
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.clitools import cli_env, descendants, slow_pages, start, wait_gone
from tests.pgcluster import Cluster
from tests.test_backfill import SINCE, UNTIL, add_history

from ingest.demo.server import SiteServer
from ingest.location import Lake
from ingest.registry import dump_registry
from ingest.store import read

pytestmark = pytest.mark.slow

RUN_TRIALS = 12
BACKFILL_TRIALS = 10


def seed() -> int:
    value = int(os.environ.get("INGEST_KILL_SEED") or random.SystemRandom().randrange(10**6))
    print(f"kill trials: INGEST_KILL_SEED={value}")
    return value


def trial_env(
    site: SiteServer,
    tmp_path: Path,
    prefect_server: str,
    history: bool = False,
    pause: float = 0.15,
) -> dict[str, str]:
    """The environment of a command under trial: the demo site's registry, one
    page at a time per host; with ``history`` its archives too, two pages per
    backfill batch. Story pages answer after ``pause`` seconds."""
    slow_pages(site, pause)
    sources = tmp_path / ("history.toml" if history else "sources.toml")
    registry = dump_registry(add_history(site).sources) if history else site.site.sources_toml()
    sources.write_text(registry, encoding="utf-8")
    pace = {"INGEST_BACKFILL_BATCH": "2"} if history else {"INGEST_PER_HOST": "1"}
    return cli_env(
        site,
        tmp_path / "home",
        PREFECT_API_URL=prefect_server,
        INGEST_SOURCES=str(sources),
        **pace,
    )


def snapshot(where: Path | Lake) -> tuple[list[tuple[object, ...]], list[frozenset[str]]]:
    """Articles as stored, and the stories as sets of canonical URLs (a
    story's id is named after whichever copy came first, which may differ)."""
    articles = read.query(
        where,
        "SELECT canonical_url, source_id, title, content_hash, word_count, body_status, "
        "wire_service, published_at FROM articles ORDER BY canonical_url",
    ).rows
    stories = read.query(
        where, "SELECT list(canonical_url ORDER BY canonical_url) FROM articles GROUP BY cluster_id"
    ).rows
    return articles, sorted((frozenset(s) for (s,) in stories), key=sorted)


def run(args: list[str], env: dict[str, str]) -> float:
    began = time.monotonic()
    proc = start(args, env)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-3000:]
    return time.monotonic() - began


def kill_at(args: list[str], env: dict[str, str], after: float) -> str:
    """Start the command and kill -9 it ``after`` seconds later (if it still
    runs); returns what happened."""
    proc = start(args, env)
    deadline = time.monotonic() + after
    kids: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        kids |= descendants(proc.pid)
        time.sleep(0.05)
    if proc.poll() is not None:
        proc.communicate()
        return "finished first"
    kids |= descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    left = wait_gone(kids, 5)
    assert not left, f"processes left behind by the killed command: {left}"
    return "killed"


Where = Callable[[str], tuple[Path | Lake, dict[str, str]]]


def in_files(tmp_path: Path) -> Where:
    """Each trial's warehouse: a new DuckDB file."""

    def make(name: str) -> tuple[Path | Lake, dict[str, str]]:
        path = tmp_path / f"{name}.duckdb"
        return path, {"INGEST_WAREHOUSE": str(path)}

    return make


def trials(
    name: str,
    args: list[str],
    env: dict[str, str],
    where: Where,
    count: int,
    rng: random.Random,
) -> None:
    reference, reference_env = where(f"{name}-whole")
    took = run(args, {**env, **reference_env})
    expected = snapshot(reference)
    assert expected[0], "the uninterrupted run stored nothing"
    outcomes = []
    for i in range(count):
        wh, wh_env = where(f"{name}-{i}")
        trial_env = {**env, **wh_env}
        after = rng.uniform(0.5, took)
        outcomes.append((round(after, 2), kill_at(args, trial_env, after)))
        run(args, trial_env)
        assert snapshot(wh) == expected, f"trial {i} (killed after {after:.2f}s) differs"
    assert sum(1 for _, what in outcomes if what == "killed") >= count // 2, outcomes


def test_kill_9_during_ingest_run_then_rerun_equals_uninterrupted(
    site: SiteServer, tmp_path: Path, prefect_server: str
) -> None:
    rng = random.Random(seed())
    env = trial_env(site, tmp_path, prefect_server)
    trials("run", ["run"], env, in_files(tmp_path), RUN_TRIALS, rng)


def test_kill_9_during_ingest_backfill_then_rerun_equals_uninterrupted(
    site: SiteServer, tmp_path: Path, prefect_server: str
) -> None:
    rng = random.Random(seed())
    env = trial_env(site, tmp_path, prefect_server, history=True)
    trials(
        "backfill",
        ["backfill", "--since", SINCE, "--until", UNTIL],
        env,
        in_files(tmp_path),
        BACKFILL_TRIALS,
        rng,
    )


LAKE_TRIALS = 4


def test_kill_9_during_ingest_run_on_a_postgres_lake_then_rerun_equals_uninterrupted(
    site: SiteServer, tmp_path: Path, prefect_server: str, postgres: Cluster
) -> None:
    """The same trials on a DuckLake with a PostgreSQL catalog: a killed
    writer's lock dies with its connection, and the re-run finishes its work."""
    rng = random.Random(seed())
    env = trial_env(site, tmp_path, prefect_server)

    def in_lakes(name: str) -> tuple[Path | Lake, dict[str, str]]:
        database = f"{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        lake = Lake("postgres", postgres.create_database(database), f"{tmp_path}/{name}/")
        return lake, {"INGEST_WAREHOUSE": lake.uri, "INGEST_DATA_PATH": lake.data_path}

    trials("run", ["run"], env, in_lakes, LAKE_TRIALS, rng)
