"""Child processes that end with their parent, even after ``kill -9``.

A process killed with SIGKILL cannot stop its children, so each child
watches its parent instead: a daemon thread checks every half second whether
the process that started it is still its parent, and exits when it is not
(the orphan was re-parented). The extraction workers start the watch in their
initializer; the temporary Prefect server runs under ``python -m
ingest.lifeline MODULE ARGS...``, which starts the watch and then runs
``MODULE`` as ``__main__``.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time

POLL_SECONDS = 0.5


def watch_parent(parent: int | None = None, poll: float = POLL_SECONDS) -> None:
    """Exit this process as soon as ``parent`` (default: the current parent)
    is no longer its parent. Ctrl+C is left to the parent: a terminal sends
    it to every process of the foreground group, and the parent decides how
    its work stops."""
    expected = parent if parent is not None else os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while True:
            if os.getppid() != expected:
                os._exit(0)
            time.sleep(poll)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def main() -> None:
    """``python -m ingest.lifeline MODULE [ARGS...]``."""
    if len(sys.argv) < 2:
        sys.exit("usage: python -m ingest.lifeline MODULE [ARGS...]")
    watch_parent()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
