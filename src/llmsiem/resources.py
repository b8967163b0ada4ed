"""Locations of the content folders (rules, mappings, playbooks, schema, connectors).

An installed wheel carries them under ``llmsiem/_data``; a source checkout keeps them at
the repository root. Both layouts resolve to the same names.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_CONTENT = ("rules", "mappings", "playbooks", "schema", "connectors")


def content_root() -> Path:
    """The folder holding the bundled content folders."""
    bundled = _PACKAGE_DIR / "_data"
    if (bundled / "rules").is_dir():
        return bundled
    source_root = _PACKAGE_DIR.parent.parent
    if (source_root / "rules").is_dir():
        return source_root
    raise FileNotFoundError(
        f"llmsiem content not found: neither {bundled} nor {source_root} holds rules/"
    )


def content_dir(name: str) -> Path:
    """One bundled content folder by name (``rules``, ``mappings``, ``playbooks`` ...)."""
    if name not in _CONTENT:
        raise ValueError(f"unknown content folder {name!r}; expected one of {_CONTENT}")
    return content_root() / name


def demo_telemetry() -> Path:
    """The bundled sample telemetry that ``llmsiem demo`` runs on."""
    return content_dir("connectors") / "samples" / "demo_telemetry.jsonl"
