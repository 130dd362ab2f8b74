"""The raw page archive: content-addressed, compressed, with retention."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
from tests.conftest import run_once

from ingest import pipeline
from ingest.rawstore import RawStore
from ingest.registry import Registry
from ingest.settings import Settings


def test_put_get_dedupes(tmp_path: Path) -> None:
    store = RawStore(tmp_path / "raw")
    body = b"<html>" + b"news " * 10_000 + b"</html>"
    sha = store.put(body)
    assert store.put(body) == sha
    assert store.get(sha) == body
    files, size = store.usage()
    assert files == 1 and size < len(body) / 20  # compressed
    assert store.remove([sha]) == 1 and not store.exists(sha)


def test_every_page_archived_and_expired_by_retention(
    settings: Settings, registry: Registry
) -> None:
    run_once(settings, registry)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    shas = [s for (s,) in con.execute("SELECT DISTINCT sha256 FROM raw_pages").fetchall()]
    con.close()
    store = RawStore(settings.raw_path)
    assert len(shas) == 18 and all(store.exists(s) for s in shas)
    assert pipeline.prune_raw(settings) == 0  # nothing is 90 days old
    con = duckdb.connect(str(settings.warehouse))
    con.execute("UPDATE raw_pages SET fetched_at = fetched_at - INTERVAL 100 DAY")
    con.close()
    assert pipeline.prune_raw(replace(settings, raw_retention_days=30)) == 18
    assert store.usage() == (0, 0)
    assert pipeline.prune_raw(replace(settings, raw_retention_days=0)) == 0
