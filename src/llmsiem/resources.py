"""Locations of the content folders (rules, mappings, playbooks, schema, connectors).

An installed wheel carries them under ``llmsiem/_data``; a source checkout keeps them at
the repository root. Both layouts resolve to the same names.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_CONTENT = ("rules", "mappings", "playbooks", "schema", "connectors", "rule_samples")
# Where each content folder lives in a source checkout (wheel: llmsiem/_data/<name>).
_SOURCE_LAYOUT = {"rule_samples": "tests/rule_samples"}


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
    """One bundled content folder by name (``rules``, ``mappings``, ``rule_samples`` ...)."""
    if name not in _CONTENT:
        raise ValueError(f"unknown content folder {name!r}; expected one of {_CONTENT}")
    root = content_root()
    if root.name == "_data":
        return root / name
    return root / _SOURCE_LAYOUT.get(name, name)


def demo_telemetry() -> Path:
    """The bundled sample telemetry that ``llmsiem demo`` runs on."""
    return content_dir("connectors") / "samples" / "demo_telemetry.jsonl"
