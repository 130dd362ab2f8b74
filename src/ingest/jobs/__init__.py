"""The wiring of each kind of run, as plain library functions.

One module per run type: :mod:`~ingest.jobs.poll` (the scheduled pass over due
feeds), :mod:`~ingest.jobs.backfill` (history over a date range) and
:mod:`~ingest.jobs.reprocess` (stored pages re-extracted). Each job's body
reads like the pipeline diagram in the README and calls its steps through a
small record of callables: the library's plain steps by default (tests,
benchmarks), Prefect tasks with retries and timeouts when a flow in ``flows/``
runs it. There is no other wiring.
"""
