"""Publisher and wire attribution."""

from __future__ import annotations

import pytest

from ingest.attribute import WireMatcher, publisher_for
from ingest.registry import Registry, parse_registry

REGISTRY: Registry = parse_registry(
    {
        "sources": [
            {
                "id": "ap",
                "name": "Associated Press",
                "kind": "wire",
                "homepage": "https://apnews.com",
                "domains": ["apnews.com"],
                "credits": ["Associated Press", "The Associated Press", "AP"],
            },
            {
                "id": "reuters",
                "name": "Reuters",
                "kind": "wire",
                "homepage": "https://www.reuters.com",
                "domains": ["reuters.com"],
                "credits": ["Reuters"],
            },
            {
                "id": "afp",
                "name": "Agence France-Presse",
                "kind": "wire",
                "homepage": "https://www.afp.com",
                "domains": ["afp.com"],
                "credits": ["Agence France-Presse", "AFP"],
            },
            {
                "id": "dpa",
                "name": "dpa",
                "kind": "wire",
                "homepage": "https://www.dpa.com",
                "domains": ["dpa.com"],
                "credits": ["dpa", "Deutsche Presse-Agentur"],
            },
            {
                "id": "efe",
                "name": "EFE",
                "kind": "wire",
                "homepage": "https://efe.com",
                "domains": ["efe.com"],
                "credits": ["EFE", "Agencia EFE"],
            },
            {
                "id": "daily",
                "name": "Daily",
                "kind": "publisher",
                "homepage": "https://daily.example.com",
                "domains": ["daily.example.com"],
            },
            {
                "id": "partner",
                "name": "Partner",
                "kind": "publisher",
                "homepage": "https://partner.co.uk",
                "domains": ["partner.co.uk"],
            },
        ]
    }
)
FILLER = " ".join(["The council met on Tuesday to discuss the budget for the coming year."] * 6)


@pytest.mark.parametrize(
    ("body", "author", "wire"),
    [
        (f"BEIRUT (AP) — {FILLER}", None, "ap"),
        (f"LONDON (Reuters) - {FILLER}", None, "reuters"),
        (f"PARIS (AFP) - {FILLER}", None, "afp"),
        (f"{FILLER}\n— The Associated Press", None, "ap"),
        (f"{FILLER}\nSource: Reuters", None, "reuters"),
        (f"{FILLER}\nThe Associated Press contributed to this report.", None, "ap"),
        (f"{FILLER}\nAvec AFP", None, "afp"),
        (f"{FILLER}\nCon información de EFE.", None, "efe"),
        (f"{FILLER}\nMit Material von dpa", None, "dpa"),
        (FILLER, "By Reuters", "reuters"),
        (FILLER, "Associated Press", "ap"),
        # not credits
        (f"The mayor told The Associated Press that the vote was close. {FILLER}", None, None),
        (
            f"{FILLER}\nReuters reported on Monday that the talks had stalled without agreement.",
            None,
            None,
        ),
        (f'{FILLER}\n"I read it in Reuters," she said.', None, None),
        (FILLER, "Jane Doe", None),
        (f"{FILLER} Analysts at the APEX fund disagreed.", None, None),
    ],
)
def test_wire_credits(body: str, author: str | None, wire: str | None) -> None:
    assert WireMatcher(REGISTRY).match(body, author) == wire


def test_publisher_is_listing_source_unless_url_on_other_domain() -> None:
    daily = REGISTRY.get("daily")
    assert daily is not None
    assert publisher_for(daily, "https://daily.example.com/a", REGISTRY).source_id == "daily"
    assert publisher_for(daily, "https://www.partner.co.uk/a", REGISTRY).source_id == "partner"
    assert publisher_for(daily, "https://unknown.org/a", REGISTRY).source_id == "daily"
