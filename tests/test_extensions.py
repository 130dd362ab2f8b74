"""DuckDB's extensions come from their wheels, never from the network."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from ingest.store import connection, extensions

OFFLINE_CONFIG = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


@pytest.mark.parametrize("name", sorted(extensions.WHEELS))
def test_each_extension_loads_from_its_wheel_and_installs_nothing(
    name: str, tmp_path: Path
) -> None:
    ext_dir = tmp_path / "extension_directory"
    ext_dir.mkdir()
    con = duckdb.connect(config={**OFFLINE_CONFIG, "extension_directory": str(ext_dir)})
    try:
        assert not extensions.loaded(con, name)
        extensions.load(con, name)
        assert extensions.loaded(con, name)
        extensions.load(con, name)  # a second load is a no-op
    finally:
        con.close()
    assert not any(ext_dir.iterdir()), "an extension was installed instead of loaded"


def test_a_version_mismatch_names_the_pins_to_install() -> None:
    with pytest.raises(extensions.ExtensionUnavailable) as caught:
        extensions.extension_file("fts", "v0.0.1")
    message = str(caught.value)
    assert "v0.0.1" in message and "duckdb-extension-fts==0.0.1" in message
    assert extensions.duckdb_version() in message  # what the wheel was built for


OFFLINE_SCRIPT = textwrap.dedent(
    """
    import socket, sys
    import duckdb
    from ingest.store import extensions

    # the network is really gone: nothing but loopback in this namespace
    try:
        socket.create_connection(("1.1.1.1", 443), timeout=2).close()
        sys.exit("network reachable: the test proves nothing")
    except OSError:
        pass
    root = sys.argv[1]
    con = duckdb.connect(config={
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "extension_directory": root + "/ext",
    })
    extensions.load(con, "ducklake", "sqlite_scanner", "fts")
    con.execute(
        f"ATTACH 'ducklake:sqlite:{root}/catalog.sqlite' AS lake (DATA_PATH '{root}/data/')"
    )
    con.execute("CREATE TABLE lake.notes (id INTEGER, body VARCHAR)")
    con.execute("INSERT INTO lake.notes VALUES (1, 'harbour strike ends'), (2, 'ferry timetable')")
    first = con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()[0]
    con.execute("INSERT INTO lake.notes VALUES (3, 'strike vote tonight')")
    was = con.execute(f"SELECT count(*) FROM lake.notes AT (VERSION => {first})").fetchone()[0]
    now = con.execute("SELECT count(*) FROM lake.notes").fetchone()[0]
    con.execute("CREATE TABLE notes AS SELECT * FROM lake.notes")
    con.execute("PRAGMA create_fts_index('notes', 'id', 'body')")
    hits = con.execute(
        "SELECT id FROM (SELECT id, fts_main_notes.match_bm25(id, 'strike') AS score FROM notes) "
        "WHERE score IS NOT NULL ORDER BY id"
    ).fetchall()
    print(was, now, [h[0] for h in hits])
    """
)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_lake_and_search_work_with_the_network_denied(tmp_path: Path) -> None:
    """In a network namespace of its own (loopback only): the extensions
    load, a DuckLake on a SQLite catalog takes writes and time travel, and a
    full-text index answers; nothing was installed."""
    (tmp_path / "ext").mkdir()
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", OFFLINE_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[0] == "2 3 [1, 3]"
    assert not any((tmp_path / "ext").iterdir())


def test_a_file_from_a_newer_duckdb_is_told_how_to_move_it() -> None:
    # DuckDB 1.5's own words on a file that DuckDB 2.x wrote
    said = (
        "IO Error: Trying to read a database file with version number 999, but we can "
        "only read versions between 64 and 68"
    )
    hint = connection.newer_file_hint(said)
    assert "EXPORT DATABASE" in hint and "IMPORT DATABASE" in hint
    assert duckdb.__version__ in hint
    assert connection.newer_file_hint("IO Error: Could not set lock on file") == ""
