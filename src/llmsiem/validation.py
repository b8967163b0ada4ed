"""Validating raw records against ``LLMEvent`` with field-level, located errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pydantic import ValidationError

from llmsiem.event import LLMEvent
from llmsiem.records import RawRecord


@dataclass(frozen=True)
class Problem:
    """Why one record is not a valid event: where, which field, and what is wrong."""

    source: str
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass
class Checked:
    """A record after validation: the event, or its problems."""

    record: RawRecord
    event: LLMEvent | None = None
    problems: list[Problem] = field(default_factory=list)


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(event)"


def check_record(record: RawRecord) -> Checked:
    """Validate one record; every pydantic error becomes a located ``Problem``."""
    if record.data is None:
        reason = record.error or "unreadable record"
        return Checked(record, problems=[Problem(record.source, record.line, None, reason)])
    try:
        return Checked(record, event=LLMEvent.model_validate(record.data))
    except ValidationError as exc:
        problems = [
            Problem(record.source, record.line, _field_name(err["loc"]), err["msg"])
            for err in exc.errors(include_url=False)
        ]
        return Checked(record, problems=problems)


def check_records(records: Iterable[RawRecord]) -> Iterator[Checked]:
    """Validate a stream of records."""
    for record in records:
        yield check_record(record)
