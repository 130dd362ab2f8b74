"""The raw-page index (``raw_pages``): which archived page each URL came from."""

from __future__ import annotations

from datetime import datetime

import duckdb

from ingest.store.connection import transaction
from ingest.store.schema import values


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
        with values(con, "expired", sha256=sorted(old)):
            kept = {
                sha
                for (sha,) in con.execute(
                    "SELECT DISTINCT sha256 FROM raw_pages JOIN expired USING (sha256)"
                ).fetchall()
            }
    return sorted(old - kept)
