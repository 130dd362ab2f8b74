"""Where the warehouse lives: a DuckDB file, or a DuckLake.

``INGEST_WAREHOUSE`` is a DuckDB file path, or ``ducklake:sqlite:PATH`` (the
catalog in a SQLite file: many processes on one machine) or
``ducklake:postgres:CONNINFO`` (the catalog in PostgreSQL: many machines),
with ``INGEST_DATA_PATH`` for the lake's Parquet files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PREFIX = "ducklake:"
CATALOGS = ("sqlite", "postgres")


class LocationError(ValueError):
    """A warehouse setting that names no usable warehouse."""


@dataclass(frozen=True)
class Lake:
    """A DuckLake: its catalog database and the directory of its data files."""

    catalog: Literal["sqlite", "postgres"]
    target: str  # the SQLite file, or the PostgreSQL connection string
    data_path: str  # a directory, a shared volume, or s3://...

    @property
    def uri(self) -> str:
        return f"{PREFIX}{self.catalog}:{self.target}"

    def describe(self) -> str:
        """The lake for messages: a connection string's password left out."""
        target = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", self.target)
        return f"{PREFIX}{self.catalog}:{target} (data: {self.data_path})"


def location_text(where: Path | Lake) -> str:
    """The setting that names this warehouse (a file path, or the lake's URI)."""
    return where.uri if isinstance(where, Lake) else str(where)


def data_path_of(where: Path | Lake) -> str | None:
    return where.data_path if isinstance(where, Lake) else None


def parse_warehouse(text: str | Path, data_path: str | None = None) -> Path | Lake:
    """The warehouse a setting names. A plain path is a DuckDB file; a lake
    needs its data path, which for a SQLite catalog defaults to a directory
    beside the catalog file (``news.sqlite`` -> ``news.files/``)."""
    raw = str(text).strip()
    if not raw.startswith(PREFIX):
        if data_path:
            raise LocationError(
                "INGEST_DATA_PATH is for a DuckLake warehouse; "
                f"{raw} is a DuckDB file (use ducklake:sqlite:PATH or ducklake:postgres:CONNINFO)"
            )
        return Path(raw)
    catalog, _, target = raw.removeprefix(PREFIX).partition(":")
    target = target.strip()
    if catalog not in CATALOGS:
        raise LocationError(
            f"unknown DuckLake catalog {catalog!r} in {raw!r}: "
            "use ducklake:sqlite:PATH or ducklake:postgres:CONNINFO"
        )
    if not target:
        what = "a file path" if catalog == "sqlite" else "a connection string"
        raise LocationError(f"{raw!r} names no catalog: ducklake:{catalog}: needs {what}")
    if catalog == "sqlite":
        target = str(Path(target).expanduser())
        if not data_path:
            data_path = str(Path(target).with_suffix(".files")) + "/"
        return Lake("sqlite", target, data_path)
    if not data_path:
        raise LocationError(
            "a lake with a PostgreSQL catalog needs INGEST_DATA_PATH (the directory, "
            "shared volume or s3:// prefix every machine writes its data files to)"
        )
    return Lake("postgres", target, data_path)
