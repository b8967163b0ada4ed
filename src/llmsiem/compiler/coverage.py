"""The rule x target coverage table: compiled, compiled inside a correlation, skipped, failed.

Every rule of the pack gets exactly one status per target, so each column adds up to the
whole pack. Skip and failure reasons become numbered notes under the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmsiem.compiler.compile import CompileResult

COMPILED = "compiled"
IN_CORRELATION = "in correlation"
SKIPPED = "skipped"
FAILED = "failed"
MARK = {COMPILED: "✓", IN_CORRELATION: "∘", SKIPPED: "⊘", FAILED: "✗"}


@dataclass(frozen=True)
class Cell:
    """One rule on one target."""

    status: str
    reason: str = ""


@dataclass(frozen=True)
class CoverageRow:
    rule_id: str
    label: str
    cells: dict[str, Cell]


def coverage(results: list[CompileResult]) -> list[CoverageRow]:
    """One row per rule (in pack order), one cell per target of ``results``."""
    labels: dict[str, str] = {}
    cells: dict[str, dict[str, Cell]] = {}
    for result in results:
        for compiled in result.compiled:
            labels.setdefault(compiled.rule_id, compiled.name or compiled.title)
            cells.setdefault(compiled.rule_id, {})[result.target] = Cell(COMPILED)
        for status, issues in (
            (IN_CORRELATION, result.base_only),
            (SKIPPED, [i for i in result.issues if i.skipped]),
            (FAILED, result.failed),
        ):
            for issue in issues:
                labels.setdefault(issue.rule_id, issue.path.rsplit("/", 1)[-1].removesuffix(".yml"))
                cells.setdefault(issue.rule_id, {})[result.target] = Cell(status, issue.message)
    return [CoverageRow(rule_id, labels[rule_id], cells[rule_id]) for rule_id in labels]


def totals(results: list[CompileResult]) -> dict[str, dict[str, int]]:
    """Per target: how many rules have each status, and their sum (the pack size)."""
    counts: dict[str, dict[str, int]] = {}
    for result in results:
        row = {
            COMPILED: len(result.compiled),
            IN_CORRELATION: len(result.base_only),
            SKIPPED: len(result.issues) - len(result.failed),
            FAILED: len(result.failed),
        }
        counts[result.target] = {**row, "total": sum(row.values())}
    return counts


def coverage_markdown(results: list[CompileResult]) -> str:
    """The coverage table as Markdown, with numbered notes for skip and failure reasons."""
    targets = [r.target for r in results]
    notes: dict[str, int] = {}
    lines = [
        "| rule | " + " | ".join(f"`{t}`" for t in targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    for row in coverage(results):
        marks = []
        for target in targets:
            cell = row.cells.get(target, Cell(SKIPPED, "not in this build"))
            mark = MARK[cell.status]
            if cell.status in (SKIPPED, FAILED):
                mark += f" [{notes.setdefault(cell.reason, len(notes) + 1)}]"
            marks.append(mark)
        lines.append(f"| `{row.label}` | " + " | ".join(marks) + " |")
    counts = totals(results)
    for status in (COMPILED, IN_CORRELATION, SKIPPED, FAILED, "total"):
        cells = " | ".join(str(counts[t][status]) for t in targets)
        lines.append(f"| **{status}** | {cells} |")
    legend = (
        "\n✓ compiled, ∘ compiled only inside the correlation that uses it (Sigma "
        "`generate: false`), ⊘ skipped (the target cannot express it), ✗ failed.\n"
    )
    reasons = "".join(f"\n[{n}] {reason}" for reason, n in notes.items())
    return "\n".join(lines) + "\n" + legend + reasons + ("\n" if reasons else "")
