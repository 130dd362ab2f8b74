"""Stopping a run early (Ctrl+C, SIGTERM) without losing anything.

The command line turns the first signal into :func:`request`: every live
:class:`~ingest.fetch.Fetcher` stops, so requests waiting for their turn or
in flight end as ``deferred`` (their links wait in ``pending_pages``, their
feeds stay due), what was fetched is extracted, staged and loaded as usual,
and the run records itself as ``stopped``. Flows ask :func:`requested`
where a long loop would go on. :class:`SignalStop` is the one place that
turns signals into that request, for every command whose work runs on an
event loop (``ingest run``, ``backfill``, ``reprocess``, ``serve``).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import threading
import weakref
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Protocol, TypeVar, cast

T = TypeVar("T")


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


class SignalStop:
    """Ctrl+C and SIGTERM while a command's work runs: the first signal says
    ``first`` (through ``say``), runs ``on_stop`` and :func:`request` on the
    work's event loop, so the work stops in order; a second one quits at once
    (exit status 128 + the signal; child processes end with this one).

    As a context manager it holds the signals (in the main thread only) for as
    long as the command runs, its clean-up included; :meth:`drive` runs the
    work on a loop in a thread of its own, so that the main thread keeps the
    signals (Prefect's flow engine and runner take SIGTERM over otherwise)."""

    def __init__(
        self,
        say: Callable[[str], object],
        first: str,
        on_stop: Callable[[], object] | None = None,
    ) -> None:
        self.say = say
        self.first = first
        self.on_stop = on_stop
        self.signals: list[int] = []  # the signals received, in order
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[int, Any] = {}

    def handle(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.signals:
            self.say(f"{name} again: quitting at once")
            os._exit(128 + signum)
        self.signals.append(signum)
        self.say(f"{name}: {self.first}")
        loop = self._loop
        for action in (self.on_stop, lambda: request(f"stopped by {name}")):
            if action is None:
                continue
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(action)
            else:
                action()

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            self._previous = {
                sig: signal.signal(sig, lambda signum, _frame: self.handle(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)
            }
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous = {}

    def drive(self, call: Coroutine[Any, Any, T], name: str = "ingest-work") -> T:
        """Run ``call`` to its end on a new event loop in a thread of its own
        (in this context: its Prefect settings), and return or raise what it did."""
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                with asyncio.Runner() as runner:
                    self._loop = runner.get_loop()
                    outcome["value"] = runner.run(call)
            except BaseException as exc:  # handed to the main thread
                outcome["error"] = exc
            finally:
                self._loop = None

        thread = threading.Thread(target=contextvars.copy_context().run, args=(work,), name=name)
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
        if "error" in outcome:
            raise outcome["error"]
        return cast(T, outcome["value"])
