"""Attribution: which publisher an article belongs to, and which wire it credits.

Publisher: the source of the feed that listed the article, unless the
canonical URL is on another registered source's domain (a feed that links to
a partner's site, an aggregator); that source wins.

Wire service: recognised from credits in the byline, the dateline and credit
lines at the top or bottom of the body, using each wire source's ``credits``
in the registry ("BEIRUT (AP) —", "— The Associated Press", "Source: Reuters",
"Con información de EFE", "Mit Material von dpa"). A credit inside quoted
speech or reported speech ("told The Associated Press") is not a wire credit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from ingest.records import Source
from ingest.registry import Registry
from ingest.urls import host_of

# How far from either end of the body a credit line may sit. Datelines and
# "— The Associated Press" sign-offs live in the first or last few lines.
HEAD_CHARS = 400
TAIL_CHARS = 600
DASH = r"[-–—―]"
# Phrases that introduce a credit line, in English, French, Spanish and German.
CREDIT_LEADS = (
    r"source|sources|with|via|by|from|additional reporting by|reporting by|"
    r"écrit par|avec|source ?:|selon|d'après|par|"
    r"con información de|con informaciones de|fuente|por|según|"
    r"mit material von|quelle|von|nach angaben von|laut"
)
REPORTED_SPEECH = re.compile(
    r"\b(told|said to|speaking to|interview with|in an interview with|according to|"
    r"a déclaré à|a dit à|a confié à|dijo a|declaró a|sagte der|sagte dem|sagte gegenüber)\s+"
    r"(the\s+|l'|la\s+|le\s+|der\s+|die\s+|dem\s+|a\s+la\s+)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class WireMatcher:
    registry: Registry

    @cached_property
    def _patterns(self) -> list[tuple[str, re.Pattern[str], re.Pattern[str], re.Pattern[str]]]:
        out = []
        for wire in self.registry.wires():
            names = sorted({c for c in (*wire.credits, wire.name) if c}, key=len, reverse=True)
            # Short credits ("AP", "AFP", "dpa") must match their exact case, or
            # "ap" inside words and sentences would count; long ones need not.
            alt = "|".join(re.escape(n) if len(n) <= 4 else f"(?i:{re.escape(n)})" for n in names)
            # Dateline: "BEIRUT (AP) —", "(Reuters) -", "PARIS (AFP/dpa) -"
            dateline = re.compile(rf"\((?:{alt})(?:/[^)]{{1,40}})?\)\s*{DASH}?")
            # Credit line: "— The Associated Press", "Source: Reuters", "Avec AFP"
            credit = re.compile(
                rf"(?:^|\s)(?:{DASH}\s*)?(?:(?i:{CREDIT_LEADS})\s*:?\s*)?(?i:the\s+)?"
                rf"(?P<name>{alt})(?![\w-])"
            )
            byline = re.compile(
                rf"(?:^|(?i:\bby|\bpar|\bpor|\bvon)\s+)(?i:the\s+)?(?:{alt})(?![\w-])"
            )
            out.append((wire.source_id, dateline, credit, byline))
        return out

    def match(self, body: str, author: str | None) -> str | None:
        """The wire source_id credited by the article, or None."""
        head = body[:HEAD_CHARS]
        tail = body[-TAIL_CHARS:] if len(body) > HEAD_CHARS else ""
        for source_id, dateline, credit, byline in self._patterns:
            if author and byline.search(author):
                return source_id
            if dateline.search(head):
                return source_id
            for part in (head, tail):
                for m in credit.finditer(part):
                    start = m.start() + len(m.group()) - len(m.group().lstrip())
                    before = part[max(0, start - 40) : start]
                    if REPORTED_SPEECH.search(before.rstrip() + " "):
                        continue
                    if _inside_quotes(part, start):
                        continue
                    if _is_line_credit(part, start, m.end(), short=len(m.group("name")) <= 4):
                        return source_id
        return None


def _inside_quotes(text: str, pos: int) -> bool:
    before = text[:pos]
    opened = before.count("“") - before.count("”") + before.count("«") - before.count("»")
    return opened > 0 or before.count('"') % 2 == 1


def _is_line_credit(text: str, start: int, end: int, *, short: bool = False) -> bool:
    """The credit stands on its own line, or as a short sign-off/lead of one."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = line_end if line_end != -1 else len(text)
    before, after = text[line_start:start].strip(), text[end:line_end].strip()
    if short:
        # "— AP", "Source: AFP", "(dpa)": an abbreviation is a credit only at
        # the end of its line ("Local MP Jane Doe said" is not one).
        return len(before) <= 60 and not after.strip(" .;:,)]")
    # "— The Associated Press", "Source: Reuters", "Reuters contributed to this
    # report.": little text on either side. A sentence that merely names the
    # wire ("Reuters reported on Monday that ...") runs on.
    return len(before) <= 60 and len(after) <= 40


def publisher_for(listing_source: Source, canonical_url: str, registry: Registry) -> Source:
    """The listing feed's source, overridden by the owner of the URL's domain."""
    try:
        host = host_of(canonical_url)
    except ValueError:
        return listing_source
    if any(host == d or host.endswith("." + d) for d in listing_source.domains):
        return listing_source
    owner = registry.owner_of(host)
    return owner or listing_source
