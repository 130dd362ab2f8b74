"""Progress reporting hook: the CLI installs a progress bar, flows add artifacts.

Library code calls :func:`started` and :func:`advanced`; nothing is shown
unless a front end installed a reporter (configuration at the edge).
"""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def start(self, total: int, description: str) -> None: ...
    def advance(self, done: int) -> None: ...


class _Silent:
    def start(self, total: int, description: str) -> None:
        return None

    def advance(self, done: int) -> None:
        return None


_reporter: Reporter = _Silent()


def install(reporter: Reporter | None) -> None:
    global _reporter  # noqa: PLW0603 - one process-wide hook, set by the front end
    _reporter = reporter or _Silent()


def started(total: int, description: str) -> None:
    _reporter.start(total, description)


def advanced(done: int) -> None:
    _reporter.advance(done)
