"""Runs an action's plan, execute, verify and undo with timeouts and one retry policy.

Every call to a target runs in a worker thread and is abandoned after its timeout, so a
target that never answers costs at most the step's total deadline. Retries back off
exponentially inside that deadline; there are no other retry layers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from llmsiem.respond.action import Action, Outcome, Plan
from llmsiem.respond.config import RunnerConfig

T = TypeVar("T")


class CallTimeoutError(TimeoutError):
    """A target did not answer within the call's timeout."""


def call_with_timeout(call: Callable[[], T], seconds: float) -> T:
    """``call()``, or CallTimeoutError after ``seconds`` (the call is abandoned, not killed)."""
    result: list[T] = []
    error: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, daemon=True, name="llmsiem-action").start()
    if not done.wait(seconds):
        raise CallTimeoutError(f"no answer within {seconds:g}s")
    if error:
        raise error[0]
    return result[0]


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts, backoff, per-call timeout and the total deadline of one step."""

    attempts: int = 3
    backoff_seconds: float = 1.0
    call_timeout_seconds: float = 15.0
    deadline_seconds: float = 60.0

    @classmethod
    def from_config(cls, config: RunnerConfig) -> RetryPolicy:
        return cls(
            config.retry_attempts,
            config.retry_backoff_seconds,
            config.call_timeout_seconds,
            config.step_deadline_seconds,
        )


@dataclass(frozen=True)
class Attempt:
    """The result of executing one step: the outcome when it succeeded, else the error."""

    outcome: Outcome | None
    verified: bool
    attempts: int
    error: str = ""


class Executor:
    """Calls actions under the retry policy."""

    def __init__(self, retry: RetryPolicy) -> None:
        self.retry = retry

    def plan(self, action: Action, inputs: dict[str, str]) -> Plan:
        """Read the target's state (one call, no retries: planning changes nothing)."""
        return call_with_timeout(lambda: action.plan(inputs), self.retry.call_timeout_seconds)

    def execute(self, action: Action, inputs: dict[str, str], plan: Plan, key: str) -> Attempt:
        """Execute and verify, retrying failures until the attempts or the deadline run out."""
        deadline = time.monotonic() + self.retry.deadline_seconds
        error = "deadline passed before the first attempt"
        attempt = 0
        while attempt < self.retry.attempts:
            attempt += 1
            try:
                outcome = call_with_timeout(
                    lambda: action.execute(inputs, key), self._timeout(deadline)
                )
                verified = call_with_timeout(
                    lambda: action.verify(inputs, plan), self._timeout(deadline)
                )
                return Attempt(outcome, verified, attempt)
            except Exception as exc:  # any target error: retry inside the deadline
                error = f"{type(exc).__name__}: {exc}"
            pause = self.retry.backoff_seconds * 2 ** (attempt - 1)
            if attempt == self.retry.attempts or time.monotonic() + pause >= deadline:
                break
            time.sleep(pause)
        return Attempt(None, False, attempt, error)

    def undo(self, action: Action, handle: dict[str, Any]) -> Any:
        return call_with_timeout(lambda: action.undo(handle), self.retry.call_timeout_seconds)

    def _timeout(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CallTimeoutError("step deadline passed")
        return min(self.retry.call_timeout_seconds, remaining)
