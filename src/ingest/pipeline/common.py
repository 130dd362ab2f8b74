"""What every part of the pipeline shares: the clock, run ids, this process."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_run_id() -> str:
    return uuid.uuid4().hex


def run_host() -> str:
    """Which machine and process runs this (``runs.host``)."""
    return f"{socket.gethostname()}:{os.getpid()}"
