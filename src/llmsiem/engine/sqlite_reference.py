"""The Zircolite-style reference: pySigma's SQLite backend over a flat SQLite table.

Used as the differential oracle for the DuckDB engine and as the benchmark baseline. Text
columns are ``COLLATE NOCASE`` (Sigma compares case-insensitively), numbers keep numeric
affinity, booleans are stored as 'true'/'false' as Zircolite does, and REGEXP is Python's
``re.search``. SQLite has no list type: a list field holds its first element, so the
reference agrees with the engine only on events whose lists have at most one element.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError

from llmsiem.columns import NUMERIC, field_types
from llmsiem.compiler.compile import load_pipeline
from llmsiem.engine.rules import ENGINE_PIPELINES
from llmsiem.event import flatten
from llmsiem.rulepack import RulePack
from llmsiem.sigma_offline import use_bundled_mitre_data

SKIPPED_FIELDS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and _regex(pattern).search(str(value)) is not None


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return None
    return value


class SqliteReference:
    """pySigma's SQLite backend queries over events in an in-memory SQLite table."""

    def __init__(self, pack: RulePack, tuning: Path | None = None) -> None:
        use_bundled_mitre_data()
        self.fields = [f for f in field_types() if f not in SKIPPED_FIELDS]
        self.detections: dict[str, str] = {}
        self.correlations: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        by_name = {rule.name: file for file, rule in pack.parse_all()}
        for file, rule in pack.parse_all():
            backend = sqliteBackend(load_pipeline(ENGINE_PIPELINES, tuning))  # type: ignore[no-untyped-call]
            try:
                if isinstance(rule, SigmaCorrelationRule):
                    bases = [by_name[r.reference].parse() for r in rule.rules or []]
                    collection = SigmaCollection([*bases, file.parse()])
                    self.correlations[rule.name or str(rule.id)] = backend.convert(collection)[-1]
                else:
                    (query,) = backend.convert_rule(file.parse())  # type: ignore[no-untyped-call]
                    self.detections[rule.name or str(rule.id)] = query
            except (SigmaError, NotImplementedError, ValueError) as exc:
                self.skipped[rule.name or str(rule.id)] = str(exc)
        self.con = sqlite3.connect(":memory:")
        self.con.create_function("REGEXP", 2, _regexp, deterministic=True)
        columns = ", ".join(
            f'"{f}" {"NUMERIC" if field_types()[f] in NUMERIC else "TEXT COLLATE NOCASE"}'
            for f in self.fields
        )
        self.con.execute(f"CREATE TABLE logs (timestamp TEXT, {columns})")

    def load(self, documents: Iterable[dict[str, Any]]) -> int:
        """Insert nested event documents as flat rows."""
        placeholders = ", ".join("?" for _ in range(len(self.fields) + 1))
        rows = []
        for document in documents:
            flat = flatten(document)
            rows.append([flat["@timestamp"], *(_cell(flat.get(f)) for f in self.fields)])
        self.con.executemany(f"INSERT INTO logs VALUES ({placeholders})", rows)
        return len(rows)

    def detection_matches(self, name: str) -> set[str]:
        """``event.id`` of every event the detection rule matches."""
        query = self.detections[name].replace("SELECT *", 'SELECT "event.id"', 1)
        return {row[0] for row in self.con.execute(query)}

    def correlation_groups(self, name: str) -> set[str]:
        """The group keys (JSON text) of every alert the correlation raises."""
        cursor = self.con.execute(self.correlations[name])
        columns = [d[0] for d in cursor.description]
        return {dict(zip(columns, row, strict=True))["group_keys"] for row in cursor}
