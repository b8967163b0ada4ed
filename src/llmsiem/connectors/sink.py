"""The ``Sink`` interface: where events go, and the one report every delivery returns."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import orjson

from llmsiem.deadletter import DeadLetter
from llmsiem.records import DIGITS_AS_ZERO, out_of_bounds

LONG_DIGIT_RUN = b"0" * 19
"""Digits folded to 0: an integer that may not fit 64 bits (orjson reads one below -2**63,
19 digits, or above 2**64 - 1 as a float)."""


@dataclass
class Delivery:
    """What one ``send`` did with a batch; every event of the batch is counted once."""

    sent: int = 0
    """Accepted by the destination."""
    duplicate: int = 0
    """Already there (a batch re-sent after a crash)."""
    dead_lettered: int = 0
    """Refused for its content; kept in the dead letter with the reason."""
    retryable: int = 0
    """Not delivered now (destination busy or unreachable); send the batch again later."""
    fatal: str | None = None
    """Why the sink cannot go on (credentials, configuration); nothing more is sent."""
    retry_reason: str | None = None
    """Why events are retryable."""
    retries: int = 0

    @property
    def complete(self) -> bool:
        """Every event of the batch has a final outcome."""
        return self.fatal is None and self.retryable == 0

    @property
    def delivered(self) -> int:
        return self.sent + self.duplicate


@dataclass
class RetryPolicy:
    """The one retry policy of a batch: exponential backoff within a total deadline.

    Sinks retry only through it (their HTTP clients retry nothing themselves), so busy or
    unreachable destinations cost at most ``deadline`` seconds per batch, however many
    layers a request passes through.
    """

    deadline: float = 60.0
    initial: float = 0.5
    ceiling: float = 8.0
    started: float = field(default_factory=time.monotonic)
    attempts: int = 0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """The default policy, its deadline from ``LLMSIEM_RETRY_DEADLINE`` (seconds) if set."""
        value = os.environ.get("LLMSIEM_RETRY_DEADLINE", "")
        try:
            return cls(deadline=float(value)) if value else cls()
        except ValueError:
            raise SinkConfigError(f"LLMSIEM_RETRY_DEADLINE={value!r} is not a number") from None

    def restart(self) -> RetryPolicy:
        """The same policy, its clock starting now (one per batch)."""
        return RetryPolicy(self.deadline, self.initial, self.ceiling)

    def wait(self) -> bool:
        """Sleep before the next attempt; False (no sleep) once the deadline would pass."""
        pause = min(self.ceiling, self.initial * 2**self.attempts)
        if time.monotonic() + pause > self.started + self.deadline:
            return False
        time.sleep(pause)
        self.attempts += 1
        return True


class Sink(Protocol):
    """An open connection to one destination."""

    def open(self) -> None: ...

    def send(self, batch: list[dict[str, Any]]) -> Delivery: ...

    def close(self) -> None: ...


class SinkConfigError(ValueError):
    """A sink cannot be created from the options and environment given."""


@runtime_checkable
class SinkType(Protocol):
    """A registered kind of sink: its name, what ``--dest`` means, and how to make one."""

    name: str
    destination: str

    def create(self, destination: str | None, dead_letter: DeadLetter) -> Sink: ...


def required_setting(name: str, given: str | None = None) -> str:
    """A sink setting: the given value, else the environment (the only place for secrets)."""
    value = given or os.environ.get(name)
    if not value:
        raise SinkConfigError(f"set {name} (credentials are read from the environment only)")
    return value


def json_bytes(document: dict[str, Any]) -> bytes:
    """A document as compact UTF-8 JSON, the form every sink and the spool write.

    orjson where it writes what the standard library would; ``json`` (ASCII escapes) for
    what orjson refuses (lone surrogates, integers beyond 64 bits, non-string keys) and
    where it would write ``null`` for NaN or an infinity (checked only when ``null`` shows).
    """
    try:
        data = orjson.dumps(document)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _standard_json(document)
    if b"null" in data and out_of_bounds(document) is not None:
        return _standard_json(document)
    return data


def _standard_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode()


def json_document(line: bytes) -> Any:
    """A JSON line read back: orjson, or the standard library where orjson is not exact.

    orjson reads integers beyond 64 bits as floats and refuses lone surrogate escapes; a
    line with a run of 19 digits, or one orjson refuses, is read by ``json`` instead.
    """
    if LONG_DIGIT_RUN in line.translate(DIGITS_AS_ZERO):
        return json.loads(line)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)
