"""True-positive and true-negative sample events shipped with every rule.

A rule's cases live next to it in ``<rule file stem>.samples.yml`` (the bundled pack and
your own rules), or in a samples folder given on the command line as
``<samples root>/<rule name>/samples.yml``. Each case is a list of partial events written as
dotted fields. Each partial event is merged onto a complete, valid base
event, and timestamps advance 10 s per event unless the case sets ``@timestamp``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from llmsiem.event import LLMEvent, set_dotted

SAMPLE_FILE = "samples.yml"
BASE_TIME = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BASE_EVENT: dict[str, Any] = {
    "event": {"kind": "event", "action": "prompt", "dataset": "llmsiem.telemetry"},
    "user": {"id": "u-sample"},
    "source": {"ip": "192.0.2.10"},
    "user_agent": {"original": "openai-python/1.54.0"},
    "trace": {"id": "trace-sample"},
    "service": {"name": "sample-app", "environment": "production"},
    "gen_ai": {"provider": {"name": "openai"}, "request": {"model": "gpt-4o-mini"}},
    "llmsiem": {"api_key": {"id": "key-sample"}},
}


class SampleError(Exception):
    """A samples file that is missing or holds an invalid event; names file and case."""


@dataclass(frozen=True)
class RuleSamples:
    """Sample cases of one rule; every case is a list of full event documents."""

    rule: str
    true_positives: list[list[dict[str, Any]]]
    true_negatives: list[list[dict[str, Any]]]


def samples_file(rule_path: Path, rule_name: str, samples_root: Path | None = None) -> Path:
    """The samples of a rule: ``<stem>.samples.yml`` beside it, else ``samples_root``'s
    ``<rule name>/samples.yml`` (when given); the path beside the rule when neither exists."""
    beside = [rule_path.with_name(rule_path.stem + s) for s in (".samples.yml", ".samples.yaml")]
    for path in beside:
        if path.is_file():
            return path
    if samples_root is not None:
        return samples_root / rule_name / SAMPLE_FILE
    return beside[0]


def build_event(partial: dict[str, Any], sequence: int, case: str) -> dict[str, Any]:
    """A full, schema-valid event from a partial one (dotted keys)."""
    document = copy.deepcopy(BASE_EVENT)
    document["@timestamp"] = (BASE_TIME + timedelta(seconds=10 * sequence)).isoformat()
    document["event"]["id"] = f"{case}-{sequence}"
    for dotted, value in partial.items():
        set_dotted(document, dotted, value)
    return LLMEvent.model_validate(document).to_document()


CASE_KEYS = ("true_positives", "true_negatives")


def read_samples(path: Path) -> dict[str, Any]:
    """The mapping a samples file holds; a ``SampleError`` naming the file when it is
    missing, not UTF-8, not YAML or not a mapping."""
    if not path.is_file():
        raise SampleError(f"{path}: no samples file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SampleError(f"{path}: invalid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise SampleError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not isinstance(data, dict):
        raise SampleError(f"{path}: expected a mapping with true_positives/true_negatives")
    return data


def partial_cases(data: dict[str, Any], key: str) -> list[list[dict[str, Any]]]:
    """The partial events of each case under ``key`` (a case is one event or a list)."""
    return [case if isinstance(case, list) else [case] for case in data.get(key) or []]


def built_case(
    path: Path, name: str, key: str, index: int, partials: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The full events of case ``index`` under ``key``; a ``SampleError`` naming the file
    and the case when the schema refuses one."""
    try:
        return [build_event(e, n, case_label(name, key, index)) for n, e in enumerate(partials)]
    except ValidationError as exc:
        raise SampleError(f"{path}: {key}[{index}]: invalid event: {exc}") from exc


def case_label(name: str, key: str, index: int) -> str:
    """How a case is named in reports: ``rule:true_positives[0]``."""
    return f"{name}:{key}[{index}]"


def _cases(path: Path, data: dict[str, Any], key: str, name: str) -> list[list[dict[str, Any]]]:
    return [
        built_case(path, name, key, index, partials)
        for index, partials in enumerate(partial_cases(data, key))
    ]


def load_samples_file(path: Path, default_name: str) -> RuleSamples:
    """Load and build the sample cases of one samples file."""
    data = read_samples(path)
    name = str(data.get("rule", default_name))
    return RuleSamples(
        name,
        _cases(path, data, "true_positives", name),
        _cases(path, data, "true_negatives", name),
    )
