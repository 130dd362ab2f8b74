"""Prefect flows: thin orchestration over the ``ingest`` library.

Tasks are batched (per feed batch), never one per article: Prefect's per-task
overhead must never dominate the work.
"""

from flows.ingest_feeds import ingest_feeds

__all__ = ["ingest_feeds"]
