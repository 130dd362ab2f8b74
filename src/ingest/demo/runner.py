"""``make demo`` / ``ingest demo``: the sample site, ingested twice, then queried.

The runner is handed the function that runs one ingestion pass (the CLI
passes the Prefect flow), so this library module stays free of Prefect.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ingest.demo.server import SiteServer
from ingest.settings import Settings
from ingest.store import read

RunPass = Callable[[Settings], Mapping[str, int]]  # the pass's settings -> counts

QUERIES = (
    (
        "articles per source",
        """
        SELECT source_id, count(*) AS articles, sum(word_count) AS words,
               count(wire_service) AS wire_credited
        FROM articles GROUP BY ALL ORDER BY articles DESC""",
    ),
    (
        "newest articles",
        """
        SELECT strftime(published_at, '%Y-%m-%d %H:%M') AS published, source_id,
               left(title, 60) AS title, extractor
        FROM articles ORDER BY published_at DESC NULLS LAST LIMIT 8""",
    ),
    (
        "wire copies (articles crediting a wire service)",
        """
        SELECT a.wire_service, a.source_id, left(a.title, 60) AS title
        FROM articles a WHERE a.wire_service IS NOT NULL ORDER BY 1, 2""",
    ),
    (
        "what publishers declared about reuse (ingest explain ARTICLE shows one row's history)",
        """
        SELECT source_id, reuse, rights.tdm_source AS tdm_declared_in, rights.license,
               count(*) AS articles
        FROM articles GROUP BY ALL ORDER BY source_id, reuse""",
    ),
    (
        "fetches by run and outcome",
        """
        SELECT strftime(r.started_at, '%H:%M:%S') AS run_started, f.kind, f.outcome, count(*) AS n
        FROM fetch_log f JOIN runs r USING (run_id)
        GROUP BY ALL ORDER BY run_started, kind, outcome""",
    ),
)


def demo_environment(hosts: list[str]) -> dict[str, str]:
    """The environment of an ``ingest`` process that reaches the loopback site:
    its hosts map to 127.0.0.1, and 127.0.0.1 (only) is exempt from the
    private-address guard (the settings ``run_demo`` gives its passes)."""
    return {
        "INGEST_ALLOW_PRIVATE_HOSTS": "127.0.0.1",
        "INGEST_RESOLVE": ",".join(f"{h}=127.0.0.1" for h in hosts),
    }


def run_demo(workdir: Path, console: Console, run_pass: RunPass, settings: Settings) -> int:
    """Serve the sample site, ingest it twice with ``run_pass`` (the settings
    given, pointed at the demo's warehouse, registry and loopback hosts), and
    show what came in; 0 when it behaved as expected."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    wh = workdir / "demo.duckdb"
    with SiteServer() as server:
        site = server.site
        sources = workdir / "sources.toml"
        sources.write_text(site.sources_toml(), encoding="utf-8")
        demo = replace(
            settings,
            warehouse=wh,
            sources=sources,
            allow_private_hosts=("127.0.0.1",),
            resolve=dict.fromkeys(site.hosts, "127.0.0.1"),
        )
        console.rule(f"sample news site on {server.base_url} ({len(site.sources)} sources)")
        first = run_pass(demo)
        console.rule("second pass over the same feeds")
        second = run_pass(demo)
        feeds = len(site.sources)
        for title, sql in QUERIES:
            _show(console, title, read.query(wh, sql))
    ok = (
        first.get("articles_new", 0) == site.expected_articles()
        and second.get("articles_new", 0) == 0
        and second.get("feed_not_modified", 0) == feeds
    )
    console.print(
        f"first pass: {first.get('articles_new', 0)} new articles "
        f"(the site has {site.expected_articles()} distinct publications); "
        f"second pass: {second.get('feed_not_modified', 0)} of {feeds} feeds answered 304 "
        f"and {second.get('articles_new', 0)} articles were added."
    )
    console.print(f"warehouse: {wh}  (try: ingest --warehouse {wh} query 'SELECT * FROM clusters')")
    console.print("[green]demo OK[/green]" if ok else "[red]demo did not behave as expected[/red]")
    return 0 if ok else 1


def _show(console: Console, title: str, result: read.QueryResult) -> None:
    table = Table(title=title, header_style="bold")
    for c in result.columns:
        table.add_column(c)
    for row in result.rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
