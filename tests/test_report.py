"""`ingest report`: one self-contained HTML file whose every chart has data
for the demo warehouse, opened in headless Chromium (a screenshot, no console
errors, every chart drawn); each run that loads articles writes the latest
report and says where it is in its Prefect summary artifact."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from tests.conftest import run_once
from typer.testing import CliRunner

from ingest import report
from ingest.cli import app
from ingest.registry import Registry
from ingest.settings import Settings

CHARTS = {"articles-per-source", "new-stories", "syndication", "languages", "extraction"}
CHARTS |= {"feed-health"}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("INGEST_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium; CI installs it)")
    return found


def headless(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    """Chromium headless, offline, with a fresh profile, its console to stderr."""
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def written(settings: Settings, registry: Registry, tmp_path: Path) -> Path:
    run_once(settings, registry)
    out = tmp_path / "report.html"
    report.write_report(settings.warehouse, out, days=30)
    return out


@pytest.mark.parametrize("backend", ["file", "lake"], indirect=True)
def test_every_chart_has_data_and_the_file_needs_nothing_else(written: Path) -> None:
    page = written.read_text(encoding="utf-8")
    charts = dict(re.findall(r'data-chart="([^"]+)" data-points="(\d+)"', page))
    assert set(charts) == CHARTS
    assert all(int(n) > 0 for n in charts.values()), charts
    # self-contained: no scripts, stylesheets, fonts or images from anywhere
    assert not re.search(r"<script|<link|<img|@import|url\(|src=", page, re.IGNORECASE)
    assert "The biggest stories" in page and "continental-press" in page
    assert "Open alerts" in page  # none on the demo warehouse: too young to alert


def test_the_report_in_headless_chromium(written: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    shown = headless(
        "--window-size=1100,2400",
        f"--screenshot={shot}",
        written.as_uri(),
        profile=tmp_path / "profile-1",
    )
    assert shot.exists() and shot.stat().st_size > 20_000, shown.stderr[-2000:]
    dom = headless("--dump-dom", written.as_uri(), profile=tmp_path / "profile-2")
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    figures = re.findall(
        r'<figure class="chart" data-chart="([^"]+)"[^>]*>(.*?)</figure>', dom.stdout, re.S
    )
    assert {name for name, _ in figures} == CHARTS
    for name, inner in figures:
        assert "<svg" in inner and 'class="value"' in inner, name


def test_report_command_and_the_latest_report_of_a_run(
    settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    counts = run_once(settings, registry)
    assert "report_failed" not in counts
    latest = settings.report_path
    assert latest.exists() and "What came in" in latest.read_text(encoding="utf-8")
    out = tmp_path / "mine.html"
    result = CliRunner().invoke(
        app, ["--warehouse", str(settings.warehouse), "report", "--out", str(out), "--days", "7"]
    )
    assert result.exit_code == 0 and out.exists(), result.output
    missing = CliRunner().invoke(
        app, ["--warehouse", str(tmp_path / "none.duckdb"), "report", "--out", str(out)]
    )
    assert missing.exit_code == 1 and "no warehouse" in missing.output


def test_the_run_summary_links_the_latest_report(tmp_path: Path) -> None:
    from flows.ingest_feeds import summary_markdown

    latest = tmp_path / "latest.html"
    counts = Counter(articles_new=18, feeds_due=4, feed_error=1)
    text = summary_markdown(counts, "run-1", latest)
    assert "| new articles | 18 |" in text and "| feeds failed | 1 |" in text
    assert "No report yet" in text
    latest.write_text("<html></html>", encoding="utf-8")
    assert f"({latest.resolve().as_uri()})" in summary_markdown(counts, "run-1", latest)
