"""Running the ``ingest`` command as a user would, and the processes it leaves.

Shared by the tests that start real ``ingest`` processes (stopping, kill -9
trials): an environment pointing at the loopback site, a process started in
its own session, and the process tree read from ``/proc``.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from ingest.demo.runner import demo_environment
from ingest.demo.server import SiteServer


def cli_env(site: SiteServer, home: Path, **extra: str) -> dict[str, str]:
    """The environment of an ``ingest`` process reaching the loopback site,
    with a Prefect home of its own (no server: the command starts its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "INGEST_"))}
    env.update(demo_environment([*site.site.hosts]))
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        INGEST_HOST_GAP="0",
    )
    env.update(extra)
    return env


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``ingest ARGS`` in a session of its own (as a terminal or cron runs it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "ingest.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def children(pid: int) -> set[int]:
    """Every live process whose parent is ``pid``."""
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: set[int], timeout: float) -> set[int]:
    """The processes of ``pids`` still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    left = {p for p in pids if alive(p)}
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = {p for p in left if alive(p)}
    return left


def wait_for(predicate: object, timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(every)
    return False


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    found, todo = set(), [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def slow_pages(site: SiteServer, seconds: float) -> set[str]:
    """Every story page of the loopback site answers after ``seconds``; returns
    their paths."""
    from ingest.demo.server import Reply, RequestInfo

    paths = {s.path for s in site.site.stories}
    for path in paths:
        resource = site.site.resources[path]

        def handler(_: RequestInfo, resource: object = resource) -> Reply:
            time.sleep(seconds)
            return Reply(200, {"Content-Type": resource.content_type}, resource.body)  # type: ignore[attr-defined]

        site.route(path, handler)
    return paths


def in_terminal(args: list[str], env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    """``ingest ARGS`` on a pseudo-terminal (as a person at a terminal runs
    it, so progress bars are live): its exit code and everything it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest.cli", *args],
        env={**env, "TERM": "xterm", "COLUMNS": "100"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal closed: the command ended
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.wait(timeout=30), out.decode("utf-8", "replace")
