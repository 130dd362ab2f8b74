"""The warehouse, split by concern.

- :mod:`~ingest.store.connection`: opening the warehouse (the lock, waits and
  retries), migrations and views. The part a second backend implements.
- :mod:`~ingest.store.schema`: Arrow types from the warehouse's own columns and
  from the records' type hints (none written by hand).
- :mod:`~ingest.store.feeds`: the registry as stored, feeds due, robots.txt.
- :mod:`~ingest.store.load`: the write path of a load batch, exactly once.
- :mod:`~ingest.store.stories`: story clusters (one clustering rule).
- :mod:`~ingest.store.revisions`: the one revision writer; pages to reprocess.
- :mod:`~ingest.store.pages`: the raw-page index.
- :mod:`~ingest.store.runs`: runs, heartbeats, backfill plans and checkpoints.
- :mod:`~ingest.store.staging`: load batches handed over as Parquet files.
- :mod:`~ingest.store.read`: read-only queries (imports no extraction or
  clustering code).

This package imports nothing on its own: each user imports the modules it needs.
"""
