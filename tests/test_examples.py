"""Every example query in warehouse/queries/examples.sql runs on a real warehouse."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_once

from ingest.registry import Registry
from ingest.settings import Settings
from ingest.store import read

EXAMPLES = Path(__file__).parents[1] / "warehouse" / "queries" / "examples.sql"


def test_example_queries_run(settings: Settings, registry: Registry) -> None:
    run_once(settings, registry)
    text = "\n".join(
        line for line in EXAMPLES.read_text().splitlines() if not line.lstrip().startswith("--")
    )
    statements = [s.strip() for s in text.split(";") if s.strip()]
    assert len(statements) >= 6
    for sql in statements:
        result = read.query(settings.warehouse, sql)
        assert result.columns, sql
