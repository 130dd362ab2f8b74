"""What a person at a terminal sees: a live progress bar that keeps its own
line while Prefect logs above it, and a final summary of end-state counts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.clitools import in_terminal
from tests.test_backfill import SINCE, UNTIL
from tests.test_kill_trials import trial_env

from ingest.demo.server import SiteServer

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LOG_LINE = re.compile(r"\d\d:\d\d:\d\d\.\d{3} \| (INFO|WARNING|ERROR)")


def test_log_lines_print_above_the_progress_bar_never_into_it(
    site: SiteServer, tmp_path: Path, prefect_server: str
) -> None:
    env = trial_env(site, tmp_path, prefect_server, history=True, pause=0.05)
    env["INGEST_WAREHOUSE"] = str(tmp_path / "news.duckdb")
    code, shown = in_terminal(["backfill", "--since", SINCE, "--until", UNTIL], env)
    assert code == 0, shown[-2000:]
    # each redraw of the bar starts with a carriage return; a log line written
    # into the bar would share a segment with it
    segments = [seg for line in ANSI.sub("", shown).splitlines() for seg in line.split("\r")]
    logs = [seg for seg in segments if LOG_LINE.search(seg)]
    bars = [seg for seg in segments if seg.startswith("backfill ━") or "pages/s" in seg]
    assert len(logs) > 10 and bars, shown[-2000:]
    assert [seg for seg in logs if not LOG_LINE.match(seg)] == []
    assert [seg for seg in bars if LOG_LINE.search(seg)] == []
    # the summary gives the counts as they ended, zeros left out
    summary = shown[shown.index("backfill summary") :]
    assert "to_fetch" in summary and "articles_new" in summary
    assert not re.search(r"│ \S+ +│ +0 │", ANSI.sub("", summary))
    assert "counters at zero not shown" in summary
