"""Sigma rule levels: their order and the severity each SIEM gives them."""

from __future__ import annotations

from typing import Protocol

from sigma.rule import SigmaLevel

LEVELS = ("informational", "low", "medium", "high", "critical")
"""From least to most severe."""
DEFAULT_LEVEL = "medium"
KIBANA_SEVERITY = {
    "informational": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}
RISK_SCORE = {"informational": 1, "low": 21, "medium": 47, "high": 73, "critical": 99}
SPLUNK_SEVERITY = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


class Leveled(Protocol):
    @property
    def level(self) -> SigmaLevel | None: ...


def rule_level(rule: Leveled) -> str:
    """A rule's level name; rules without one count as medium."""
    return rule.level.name.lower() if rule.level else DEFAULT_LEVEL


def rank(level: str) -> int:
    """Position of a level in ``LEVELS`` (0 = informational); ValueError if unknown."""
    return LEVELS.index(level)
