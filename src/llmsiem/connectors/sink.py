"""The ``Sink`` interface: where events go, and the one report every delivery returns."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from llmsiem.deadletter import DeadLetter


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
