"""The raw-page index (``raw_pages``): which archived page each URL came from."""

from __future__ import annotations

from datetime import datetime

import duckdb

from ingest.store.connection import transaction


def expire_raw_pages(con: duckdb.DuckDBPyConnection, before: datetime) -> list[str]:
    """Forget raw pages fetched before ``before``; return the bodies nothing refers to now."""
    with transaction(con):
        old = {
            sha
            for (sha,) in con.execute(
                "SELECT DISTINCT sha256 FROM raw_pages WHERE fetched_at < ?", [before]
            ).fetchall()
        }
        con.execute("DELETE FROM raw_pages WHERE fetched_at < ?", [before])
        kept = (
            {
                sha
                for (sha,) in con.execute(
                    "SELECT DISTINCT sha256 FROM raw_pages "
                    "WHERE list_contains(?::VARCHAR[], sha256)",
                    [sorted(old)],
                ).fetchall()
            }
            if old
            else set()
        )
    return sorted(old - kept)
