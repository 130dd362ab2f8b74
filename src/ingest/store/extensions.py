"""DuckDB's own extensions, loaded from their installed wheels.

Nothing is downloaded at run time: each extension comes from its
``duckdb-extension-*`` wheel (a dependency of the project, pinned to the
DuckDB version it was built for) and is loaded by path. An extension binary
loads only into the exact DuckDB version it was built for, so a mismatch is
reported with the pins to fix it, not left to DuckDB's own message.
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path

import duckdb

from ingest.store.schema import sql_literal

# extension name (as DuckDB lists it) -> (Python package, distribution on the index)
WHEELS: dict[str, tuple[str, str]] = {
    "ducklake": ("duckdb_extension_ducklake", "duckdb-extension-ducklake"),
    "sqlite_scanner": ("duckdb_extension_sqlite_scanner", "duckdb-extension-sqlite-scanner"),
    "postgres_scanner": (
        "duckdb_extension_postgres_scanner",
        "duckdb-extension-postgres-scanner",
    ),
    "fts": ("duckdb_extension_fts", "duckdb-extension-fts"),
    "httpfs": ("duckdb_extension_httpfs", "duckdb-extension-httpfs"),
}


class ExtensionUnavailable(RuntimeError):
    """An extension this needs is not installed for the running DuckDB."""


def duckdb_version() -> str:
    """The running DuckDB's version as extensions name it (``v1.5.5``)."""
    return f"v{duckdb.__version__}"


def extension_file(name: str, version: str | None = None) -> Path:
    """The extension binary that its wheel installed for ``version`` (the
    running DuckDB's by default)."""
    version = version or duckdb_version()
    if name not in WHEELS:
        raise ExtensionUnavailable(f"unknown DuckDB extension {name!r}")
    package, distribution = WHEELS[name]
    pin = f"{distribution}=={version.lstrip('v')}"
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError as exc:
        raise ExtensionUnavailable(
            f"the DuckDB extension {name} is not installed (pip install '{pin}')"
        ) from exc
    root = resources.files(module) / "extensions"
    found = Path(str(root / version / f"{name}.duckdb_extension"))
    if found.is_file():
        return found
    built = sorted(p.name for p in Path(str(root)).iterdir()) if root.is_dir() else []
    raise ExtensionUnavailable(
        f"the installed DuckDB extension {name} is built for DuckDB "
        f"{', '.join(built) or 'no version'}, and this is DuckDB {version}: "
        f"install the same version of both (pip install 'duckdb=={version.lstrip('v')}' '{pin}')"
    )


def loaded(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT loaded FROM duckdb_extensions() WHERE extension_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


def load(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Load extensions into ``con`` from their wheels (those already loaded are skipped)."""
    for name in names:
        if not loaded(con, name):
            con.execute(f"LOAD {sql_literal(str(extension_file(name)))}")
