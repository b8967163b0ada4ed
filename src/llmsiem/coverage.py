"""Coverage of the rule pack: a MITRE ATLAS Navigator layer and an HTML report.

Counts the alerting rules (informational base rules of correlations are left out) per ATLAS
technique and per OWASP LLM Top 10 2025 category. Efficacy figures come from reports of
``llmsiem eval --format json`` and ``llmsiem agent-eval --format json`` where given: per rule,
the attack cases it caught and the benign cases it flagged.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import yaml

from llmsiem.resources import content_dir
from llmsiem.rulepack import RulePack

NAVIGATOR_SCHEMA = "navigator-layer-4.5.schema.json"
ATLAS_DOMAIN = "atlas-atlas"
NAVIGATOR_VERSION = "5.1.0"


@dataclass(frozen=True)
class RuleCoverage:
    """One alerting rule and the taxonomy entries it covers."""

    name: str
    title: str
    level: str
    folder: str
    atlas: tuple[str, ...]
    owasp: tuple[str, ...]


@dataclass
class Efficacy:
    """Attack cases a rule caught and benign cases it flagged, over the given reports."""

    caught: int = 0
    attacks: int = 0
    flagged: int = 0
    benign: int = 0

    def recall(self) -> float | None:
        return self.caught / self.attacks if self.attacks else None

    def fpr(self) -> float | None:
        return self.flagged / self.benign if self.benign else None


@dataclass
class Catalogue:
    """ATLAS technique names and OWASP category names."""

    atlas: dict[str, str] = field(default_factory=dict)
    owasp: dict[str, str] = field(default_factory=dict)
    atlas_version: str = ""


def load_catalogue() -> Catalogue:
    taxonomy = content_dir("mappings") / "taxonomy"
    atlas = yaml.safe_load((taxonomy / "atlas.yaml").read_text(encoding="utf-8"))
    owasp = yaml.safe_load((taxonomy / "owasp-llm-2025.yaml").read_text(encoding="utf-8"))
    return Catalogue(
        {key: str(item["name"]) for key, item in atlas["techniques"].items()},
        {key.upper(): str(name) for key, name in owasp["categories"].items()},
        str(atlas["version"]),
    )


def collect(pack: RulePack) -> list[RuleCoverage]:
    """Every alerting rule of the pack with its ATLAS and OWASP tags."""
    rules = []
    for file, rule in pack.parse_all():
        level = rule.level.name.lower() if rule.level else "informational"
        if level == "informational":
            continue
        atlas = tuple(t.name.upper() for t in rule.tags if t.namespace == "atlas")
        owasp = tuple(t.name.upper() for t in rule.tags if t.namespace == "owasp")
        rules.append(RuleCoverage(str(rule.name), rule.title, level, file.layer, atlas, owasp))
    return sorted(rules, key=lambda r: r.name)


def efficacy(reports: list[dict[str, Any]], rules: tuple[str, ...] = ()) -> dict[str, Efficacy]:
    """Per rule efficacy from ``llmsiem eval`` and ``llmsiem agent-eval`` JSON reports; the
    named ``rules`` are measured (with zero hits) even where no report names them."""
    table: dict[str, Efficacy] = defaultdict(Efficacy)
    if reports:
        for name in rules:
            table[name] = Efficacy()
    for report in reports:
        if "rule_table" in report:  # llmsiem eval
            attacks = sum(f["total"] for f in report["attack_families"])
            benign = sum(s["total"] for s in report["benign_sets"])
            for row in report["rule_table"]:
                table[row["rule"]].caught += int(row["tp"])
                table[row["rule"]].flagged += int(row["fp"])
            for item in table.values():
                item.attacks += attacks
                item.benign += benign
        elif "sessions" in report:  # llmsiem agent-eval
            sessions = report["sessions"]
            attacks = sessions["attack_sessions"]["total"]
            benign = sessions["benign_sessions"]["total"]
            for scenario in sessions["scenarios"]:
                for rule, hits in scenario["rules"].items():
                    table[rule].caught += int(hits)
            for rule, hits in sessions["benign_sessions"]["rules"].items():
                table[rule].flagged += int(hits)
            for item in table.values():
                item.attacks += attacks
                item.benign += benign
        else:
            raise ValueError("not an llmsiem eval or agent-eval JSON report")
    return dict(table)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def navigator_layer(
    rules: list[RuleCoverage], catalogue: Catalogue, measured: dict[str, Efficacy]
) -> dict[str, Any]:
    """An ATLAS Navigator layer (format 4.5): score = number of rules per technique."""
    by_technique: dict[str, list[RuleCoverage]] = defaultdict(list)
    for rule in rules:
        for technique in rule.atlas:
            by_technique[technique].append(rule)
    techniques: list[dict[str, Any]] = []
    for technique in sorted(by_technique):
        covering = by_technique[technique]
        metadata = []
        for rule in covering:
            figures = measured.get(rule.name)
            value = rule.title
            if figures:
                recall, fpr = _percent(figures.recall()), _percent(figures.fpr())
                value += f" (recall {recall}, FPR {fpr})"
            metadata.append({"name": rule.name, "value": value})
        techniques.append(
            {
                "techniqueID": technique,
                "score": len(covering),
                "comment": f"{len(covering)} llmsiem rule(s)",
                "metadata": metadata,
                "enabled": True,
            }
        )
    top = max((len(r) for r in by_technique.values()), default=1)
    return {
        "name": "llmsiem detection coverage",
        "versions": {"navigator": NAVIGATOR_VERSION, "layer": "4.5", "attack": ""},
        "domain": ATLAS_DOMAIN,
        "description": f"Rules of the llmsiem pack per MITRE ATLAS {catalogue.atlas_version} "
        "technique; score = number of alerting rules.",
        "sorting": 3,
        "hideDisabled": False,
        "techniques": techniques,
        "gradient": {"colors": ["#ffffff", "#66b1ff"], "minValue": 0, "maxValue": max(top, 1)},
        "legendItems": [{"label": "covered by llmsiem", "color": "#66b1ff"}],
        "metadata": [{"name": "rules", "value": str(len(rules))}],
    }


def layer_errors(layer: dict[str, Any]) -> list[str]:
    """Problems of a layer against the Navigator layer format 4.5 schema (empty: valid)."""
    schema = json.loads((content_dir("schema") / NAVIGATOR_SCHEMA).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(layer)'}: {error.message}"
        for error in validator.iter_errors(layer)
    ]


def _row(rule: RuleCoverage, measured: dict[str, Efficacy]) -> str:
    figures = measured.get(rule.name)
    recall = _percent(figures.recall()) if figures else "not measured"
    fpr = _percent(figures.fpr()) if figures else "not measured"
    cells = (rule.name, rule.title, rule.level, recall, fpr)
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def html_report(
    rules: list[RuleCoverage], catalogue: Catalogue, measured: dict[str, Efficacy]
) -> str:
    """A self-contained HTML page: rules per OWASP category and per ATLAS technique."""
    head = "<tr><th>rule</th><th>title</th><th>level</th><th>recall</th><th>FPR</th></tr>"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>llmsiem coverage</title>',
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:1.5em}td,th{border:1px solid #bbb;padding:3px 8px;text-align:left}"
        "th{background:#e8f0fe}.none{color:#b00}</style></head><body>",
        "<h1>llmsiem detection coverage</h1>",
        f"<p>{len(rules)} alerting rules; MITRE ATLAS {html.escape(catalogue.atlas_version)}, "
        "OWASP Top 10 for LLM Applications 2025. Recall: share of the attack cases of the "
        "given eval reports that the rule caught; FPR: share of benign cases it flagged.</p>",
        "<h2>OWASP LLM Top 10 2025</h2>",
        "<table><tr><th>category</th><th>name</th><th>rules</th></tr>",
    ]
    for key, name in catalogue.owasp.items():
        count = sum(key in r.owasp for r in rules)
        css = ' class="none"' if count == 0 else ""
        parts.append(f"<tr{css}><td>{key}</td><td>{html.escape(name)}</td><td>{count}</td></tr>")
    parts.append("</table>")
    for key, name in catalogue.owasp.items():
        covering = [r for r in rules if key in r.owasp]
        parts.append(f"<h3>{key} {html.escape(name)}</h3><table>{head}")
        parts.extend(_row(r, measured) for r in covering)
        parts.append("</table>")
    parts.append("<h2>MITRE ATLAS techniques</h2>")
    techniques = sorted({t for r in rules for t in r.atlas})
    for technique in techniques:
        name = catalogue.atlas.get(technique, "unknown technique")
        parts.append(f"<h3>{technique} {html.escape(name)}</h3><table>{head}")
        parts.extend(_row(r, measured) for r in rules if technique in r.atlas)
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
