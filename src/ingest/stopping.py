"""Stopping a run early (Ctrl+C, SIGTERM) without losing anything.

The command line turns the first signal into :func:`request`: every live
:class:`~ingest.fetch.Fetcher` stops, so requests waiting for their turn or
in flight end as ``deferred`` (their links wait in ``pending_pages``, their
feeds stay due), what was fetched is extracted, staged and loaded as usual,
and the run records itself as ``stopped``. Nothing here knows about signals
or Prefect; flows ask :func:`requested` where a long loop would go on.
"""

from __future__ import annotations

import threading
import weakref
from typing import Protocol


class Stoppable(Protocol):
    def stop(self) -> None: ...


_requested = threading.Event()
_reason: list[str] = []
_live: weakref.WeakSet[Stoppable] = weakref.WeakSet()
_lock = threading.Lock()


def register(thing: Stoppable) -> None:
    """Stop ``thing`` when a stop is requested (at once if it already was)."""
    with _lock:
        _live.add(thing)
        stop_now = _requested.is_set()
    if stop_now:
        thing.stop()


def request(reason: str = "stop requested") -> None:
    """Ask the running work in this process to stop early. Call it from the
    event loop's thread (the Fetcher's state is the loop's)."""
    with _lock:
        if not _requested.is_set():
            _reason.append(reason)
        _requested.set()
        live = list(_live)
    for thing in live:
        thing.stop()


def requested() -> bool:
    return _requested.is_set()


def reason() -> str | None:
    return _reason[0] if _reason else None


def reset() -> None:
    """Forget a stop request (tests, or a new run in a long-lived process)."""
    with _lock:
        _requested.clear()
        _reason.clear()
