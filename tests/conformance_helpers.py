"""The one assertion of every target's differential test against the engine."""

from __future__ import annotations

from llmsiem.conformance.verdicts import Verdicts, compare


def assert_every_rule_agrees(
    target: str, engine: Verdicts, observed: Verdicts, rules: list[str], dialect: str = ""
) -> None:
    """Each compiled rule gives the engine's verdict on every corpus event and correlation
    case, and none fails to parse; prints the summary line (``target (dialect): ...``)."""
    report = compare(target, engine, observed, rules)
    line = report.summary_line()
    print(line.replace(target, f"{target} ({dialect})", 1) if dialect else line)
    assert rules, f"no rule was compiled for {target}"
    assert not report.disagreements, "\n".join(d.describe() for d in report.disagreements)
    assert line == f"{target}: rules {len(rules)}, agree {len(rules)}, disagree 0, parse errors 0"
