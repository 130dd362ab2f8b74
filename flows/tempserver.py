"""The temporary Prefect server of a one-off command, tied to its life.

Without ``PREFECT_API_URL`` Prefect starts a temporary server in a child
process for the run (its local ephemeral mode). That child outlives a parent
killed with ``kill -9`` and stays behind as an orphan of about 200 MB. So the
command line starts the same server itself, the way Prefect does (uvicorn
with Prefect's app factory, the UI off), but under ``python -m
ingest.lifeline``, which ends the server as soon as its parent is gone; and
it stops the server when the command ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import prefect
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

# What Prefect's own temporary server runs with (prefect.server.api.server).
_SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
_PORT_IN_USE = 3  # uvicorn's exit code when it cannot bind


class ServerStartError(RuntimeError):
    """The temporary server did not answer in time."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(port: int, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start the server process on ``port`` (it ends with this process)."""
    env = {
        **os.environ,
        **_SERVER_ENV,
        **get_current_settings().to_environment_variables(exclude_unset=True),
        **(extra_env or {}),
    }
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "ingest.lifeline",
            "uvicorn",
            "--app-dir",
            str(prefect.__module_path__.parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ],
        env=env,
        # its own process group: a terminal's Ctrl+C goes to the command,
        # which stops the run and then this server
        process_group=0,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class TemporaryServer:
    process: subprocess.Popen[bytes]
    api_url: str


@contextmanager
def temporary_server() -> Iterator[TemporaryServer | None]:
    """Inside, Prefect talks to a temporary server of this process (none is
    started when ``PREFECT_API_URL`` names a server)."""
    settings = get_current_settings()
    if settings.api.url:
        yield None
        return
    timeout = float(settings.server.ephemeral.startup_timeout_seconds)
    port = free_port()
    proc = launch(port)
    try:
        deadline = time.monotonic() + timeout
        with httpx.Client(trust_env=False) as client:
            while True:
                code = proc.poll()
                if code == _PORT_IN_USE:
                    port = free_port()
                    proc = launch(port)
                elif code is not None:
                    raise ServerStartError(f"the temporary Prefect server exited with {code}")
                try:
                    if client.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise ServerStartError(
                        f"the temporary Prefect server did not answer within {timeout:g}s"
                    )
                time.sleep(0.1)
        api_url = f"http://127.0.0.1:{port}/api"
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            try:
                yield TemporaryServer(proc, api_url)
            finally:
                _drain()
    finally:
        stop(proc)


def _drain() -> None:
    """Send Prefect's queued logs and events while the server is still up:
    afterwards its workers would retry a closed port for minutes at exit."""
    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)
