"""The rights step on real pages: what it finds, and what it costs.

Over every page of the metadata dev set (``tests/fixtures/metadata``: real
news pages from many publishers), reads the page's own rights signals
(``ingest.rights.page_signals`` and ``decide``, without headers or origin
files, which the dev set does not keep) and prints how often each signal and
each ``reuse`` value occurs, then the CPU per page of the rights step against
the metadata step it runs beside (``ingest.metadata.gather``), in the same run.

Run: ``.venv/bin/python benchmarks/rights.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from lxml.html import HtmlElement
from trafilatura.utils import load_html

from ingest import metadata, rights
from ingest.records import Rights

PAGES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "metadata" / "pages"
TOKEN = "news-ingest"


def _declared(page: metadata.Page) -> Rights:
    found = rights.page_signals(page.meta, page.jsonld, page.main, page.tree, TOKEN)
    return rights.decide(found, {}, None, TOKEN)


def _cpu_ms(work: list[HtmlElement], step: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        pages = [metadata.gather(tree, "https://dev.test/article") for tree in work]
        began = time.process_time()
        if step == "gather":
            for tree in work:
                metadata.gather(tree, "https://dev.test/article")
        else:
            for page in pages:
                _declared(page)
        best = min(best, time.process_time() - began)
    return best / len(work) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many passes")
    args = parser.parse_args()
    trees = [
        tree
        for path in sorted(PAGES.iterdir())
        if (tree := load_html(path.read_bytes())) is not None
    ]
    declared = [_declared(metadata.gather(t, "https://dev.test/article")) for t in trees]
    print(f"{len(trees)} dev-set pages")
    print("reuse:", dict(Counter(rights.reuse(r) for r in declared).most_common()))
    directives = Counter(d for r in declared for d in r.robots_meta)
    print("robots meta directives:", dict(directives.most_common(8)))
    print("TDM reservation in meta:", sum(r.tdm_reservation == 1 for r in declared))
    print("licence declared:", dict(Counter(r.license_source for r in declared if r.license)))
    print(
        "isAccessibleForFree:",
        dict(Counter(str(r.accessible_for_free) for r in declared).most_common()),
        "pages with paywalled parts:",
        sum(bool(r.paywalled_parts) for r in declared),
    )
    gather = _cpu_ms(trees, "gather", args.repeat)
    step = _cpu_ms(trees, "rights", args.repeat)
    print(
        f"CPU per page: rights step {step:.2f} ms, metadata gather {gather:.2f} ms "
        f"(ratio {step / gather:.2f})"
    )


if __name__ == "__main__":
    main()
