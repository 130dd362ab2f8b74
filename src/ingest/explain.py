"""``ingest explain ARTICLE_ID|URL``: the whole history of one article row.

How it was found (every sighting: feed, sitemap, archive, URL list, WARC),
the fetches of its URLs and the raw pages kept, the extractor and its
settings, where each metadata field came from, what the publisher declared
about its use, and every revision with the fields it changed. Read from one
read-only snapshot of the warehouse.
"""

from __future__ import annotations

import json
import re
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from ingest import rights
from ingest.location import Lake
from ingest.records import Rights
from ingest.store import read
from ingest.store.connection import WarehouseError
from ingest.urls import BadURL, canonicalize

_ARTICLE_ID = re.compile(r"a[0-9a-f]{15}")


class NotFound(WarehouseError):
    """No article has this id or URL."""


@dataclass(frozen=True)
class Explanation:
    article: dict[str, Any]
    urls: list[str] = field(default_factory=list)
    sightings: list[dict[str, Any]] = field(default_factory=list)
    fetches: list[dict[str, Any]] = field(default_factory=list)
    raw_pages: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)
    cluster: dict[str, Any] | None = None


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def find_article(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """The article an id or any of its URLs (as given, or canonical) names."""
    key = key.strip()
    if _ARTICLE_ID.fullmatch(key):
        found = con.execute("SELECT article_id FROM articles WHERE article_id = ?", [key])
        if (row := found.fetchone()) is not None:
            return str(row[0])
    candidates = [key]
    with suppress(BadURL):
        candidates.append(canonicalize(key))
    for url in candidates:
        for sql in (
            "SELECT article_id FROM article_urls WHERE url = ?",
            "SELECT article_id FROM articles WHERE canonical_url = ? OR url = ?",
        ):
            params = [url] * sql.count("?")
            if (row := con.execute(sql, params).fetchone()) is not None:
                return str(row[0])
    return None


def gather(con: duckdb.DuckDBPyConnection, key: str) -> Explanation:
    article_id = find_article(con, key)
    if article_id is None:
        raise NotFound(f"no article has the id or URL {key!r}")
    (article,) = _rows(
        con,
        "SELECT * EXCLUDE (body), length(body) AS body_chars FROM articles WHERE article_id = ?",
        [article_id],
    )
    urls = [
        r["url"]
        for r in _rows(
            con, "SELECT url FROM article_urls WHERE article_id = ? ORDER BY url", [article_id]
        )
    ]
    wanted = sorted({*urls, article["url"], article["canonical_url"]})
    marks = ", ".join("?" for _ in wanted)
    sightings = _rows(
        con,
        "SELECT s.seen_at, s.via, s.feed_id, f.url AS feed_url, s.source_id, s.run_id, "
        "s.backfill_id, s.url FROM sightings s LEFT JOIN feeds f USING (feed_id) "
        "WHERE s.article_id = ? ORDER BY s.seen_at, s.feed_id",
        [article_id],
    )
    fetches = _rows(
        con,
        "SELECT fetched_at, kind, url, final_url, status, outcome, error, bytes, elapsed_ms, "
        f"run_id FROM fetch_log WHERE kind = 'page' AND (url IN ({marks}) "
        f"OR final_url IN ({marks})) ORDER BY fetched_at",
        [*wanted, *wanted],
    )
    raw = _rows(
        con,
        "SELECT fetched_at, url, final_url, sha256, bytes, status, content_type, run_id "
        f"FROM raw_pages WHERE url IN ({marks}) ORDER BY fetched_at",
        wanted,
    )
    revisions = _rows(
        con,
        "SELECT revision, revised_at, run_id, changed, fields, old_reuse, old_provenance "
        "FROM article_revisions WHERE article_id = ? ORDER BY revision",
        [article_id],
    )
    clusters = _rows(
        con,
        "SELECT cluster_id, origin_article_id, origin_source_id, size, first_published_at "
        "FROM clusters WHERE cluster_id = ?",
        [article["cluster_id"]],
    )
    return Explanation(
        article, urls, sightings, fetches, raw, revisions, clusters[0] if clusters else None
    )


def explain(warehouse: Path | Lake, key: str) -> Explanation:
    """Everything the warehouse knows of how the article ``key`` (its id, or
    any URL that led to it) came to be."""
    with read.reading(warehouse) as con:
        return gather(con, key)


# --------------------------------------------------------------------------- text


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items()) or "-"
    return str(value)


def _rights_lines(declared: dict[str, Any] | None, reuse: str | None) -> list[str]:
    if not declared:
        return [f"  reuse: {reuse or 'unknown'} (no page: the body came from the feed alone)"]
    evidence = Rights(**{k: tuple(v) if isinstance(v, list) else v for k, v in declared.items()})  # type: ignore[arg-type]
    why = rights.reservations(evidence)
    lines = [
        f"  reuse: {reuse or rights.reuse(evidence)}" + (f" ({'; '.join(why)})" if why else "")
    ]
    labels = {
        "robots_meta": "robots meta",
        "x_robots_tag": "X-Robots-Tag",
        "tdm_reservation": "TDM reservation",
        "tdm_policy": "TDM policy",
        "tdm_source": "TDM declared in",
        "ai_disallowed": "AI crawlers disallowed",
        "accessible_for_free": "accessible for free",
        "paywalled_parts": "paywalled parts",
        "license": "licence",
        "license_source": "licence declared in",
    }
    for name, label in labels.items():
        value = declared.get(name)
        if value not in (None, [], ()):
            lines.append(f"  {label}: {_text(value)}")
    return lines


def render(ex: Explanation) -> str:
    """The explanation as text for people."""
    a = ex.article
    prov = a.get("provenance") or {}
    out = [
        f"article {a['article_id']}: {a.get('title') or '(no title)'}",
        f"  source {a['source_id']}, canonical URL {a['canonical_url']}",
        f"  first seen {_text(a['first_seen_at'])}, last seen {_text(a['last_seen_at'])}, "
        f"published {_text(a.get('published_at'))}",
        f"  story {a['cluster_id']}"
        + (
            f" ({ex.cluster['size']} articles, origin {ex.cluster['origin_article_id']})"
            if ex.cluster
            else ""
        ),
        "",
        "found",
        f"  first via {prov.get('found_via') or '-'} in "
        f"{prov.get('found_in') or a.get('feed_id') or '-'} (run {a.get('run_id') or '-'})",
    ]
    out += [
        f"  {_text(s['seen_at'])} via {s['via']} {s['feed_id']}"
        + (f" ({s['feed_url']})" if s["feed_url"] else "")
        + f", run {s['run_id']}"
        for s in ex.sightings
    ]
    out += ["  URLs that lead here: " + (", ".join(ex.urls) or "-"), "", "fetched"]
    if prov:
        out.append(
            f"  text from {prov.get('fetched_url') or '-'} -> {prov.get('final_url') or '-'}, "
            f"HTTP {prov.get('status') or '-'} at {prov.get('fetched_at') or '-'}, "
            f"raw page sha256 {prov.get('raw_sha256') or '-'}"
        )
    out += [
        f"  {_text(f['fetched_at'])} {f['url']}: {f['outcome']} HTTP {f['status'] or '-'}"
        + (f" ({f['error']})" if f["error"] else "")
        + f", {f['bytes']} bytes, {f['elapsed_ms']} ms"
        for f in ex.fetches
    ]
    out += [
        f"  archived {_text(r['fetched_at'])}: {r['sha256']} ({r['bytes']} bytes, "
        f"{r['content_type'] or '-'})"
        for r in ex.raw_pages
    ]
    if not ex.raw_pages:
        out.append("  no raw page in the archive")
    out += [
        "",
        "extracted",
        f"  extractor {a['extractor']}: {prov.get('extraction') or '-'}",
        f"  body {a.get('body_status') or 'page'}"
        + (f" ({a['body_reason']})" if a.get("body_reason") else "")
        + f", {a['body_chars']} characters stored, {a['word_count']} words, "
        f"content hash {a['content_hash'][:16]}",
        f"  wire service {a.get('wire_service') or '-'}, language {a.get('language') or '-'}, "
        f"authors {_text(a.get('authors'))}",
        "  metadata sources: " + _text(a.get("metadata_sources")),
        "",
        "rights (as declared when fetched)",
    ]
    out += _rights_lines(a.get("rights"), a.get("reuse"))
    out += ["", f"revisions ({len(ex.revisions)})"]
    for r in ex.revisions:
        fields = r.get("fields") or {}
        changed = "; ".join(
            f"{k}: {_text(v.get('old'))[:60]} -> {_text(v.get('new'))[:60]}"
            for k, v in fields.items()
        )
        out.append(
            f"  #{r['revision']} {_text(r['revised_at'])} (run {r['run_id']}): "
            f"{r['changed'] or '-'}" + (f" [{changed}]" if changed else "")
        )
    return "\n".join(out) + "\n"


def as_json(ex: Explanation) -> str:
    return json.dumps(ex.__dict__, default=_text, indent=2, ensure_ascii=False) + "\n"
