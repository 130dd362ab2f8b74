"""The layering of the code, as contracts that fail when an import breaks it.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``) and are
described in ``docs/architecture.md``: rules import neither stages nor storage,
stages never import storage or flows, storage never imports stages, the read
path imports no extraction or clustering code, the library never imports flows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ingest.store import connection

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_query_through_the_command_line_imports_no_extraction_code(tmp_path: Path) -> None:
    warehouse = tmp_path / "news.duckdb"
    with connection.writer(warehouse) as con:
        con.execute("SELECT 1")
    script = (
        "import json, sys\n"
        "from ingest.cli import main\n"
        "sys.argv = ['ingest', '--warehouse', sys.argv[1], 'query', '-f', 'json',\n"
        "            'SELECT count(*) AS n FROM articles']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        "heavy = ['trafilatura', 'ingest.extract', 'ingest.dedup', 'ingest.near',\n"
        "         'ingest.store.stories', 'prefect']\n"
        "print(json.dumps({m: m in sys.modules for m in heavy}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(warehouse)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    *answer, imported = done.stdout.strip().splitlines()
    assert json.loads("\n".join(answer)) == [{"n": 0}]
    assert json.loads(imported) == dict.fromkeys(json.loads(imported), False)
