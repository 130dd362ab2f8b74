"""news-ingest: RSS/Atom feeds to article pages to a DuckDB warehouse.

The package is the library: plain, typed stages over small records. Prefect
orchestration lives in the top-level ``flows`` package; ``ingest.cli`` is the
front door that may call into it.
"""

__version__ = "0.1.0"
