"""Every CLI command and option is documented in the README (as sqlite-utils does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ingest.cli import app

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        if hasattr(cmd, "commands"):
            out += _commands(cmd, full + " ")
        else:
            out.append((full, cmd))
    return out


def test_every_command_and_option_documented() -> None:
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    commands = _commands(root)
    assert len(commands) >= 7
    for name, cmd in commands:
        assert f"ingest {name}" in README, f"`ingest {name}` is not in the README"
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert opt in README, f"{opt} of `ingest {name}` is not in the README"
    for param in root.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt != "--help":
                assert opt in README


def test_every_setting_documented() -> None:
    import re

    source = (Path(__file__).parents[1] / "src" / "ingest" / "settings.py").read_text()
    names = set(re.findall(r'"(INGEST_[A-Z_]+)"', source))
    assert names
    for name in names:
        assert name in README, f"{name} is not in the README"
