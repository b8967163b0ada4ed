"""DeepEval test cases for ``deepeval test run`` (run from .venv-deepeval, never by this suite's
pytest): two deterministic metrics written against DeepEval's ``BaseMetric`` and DeepEval's
own model-free ``PatternMatchMetric``, so no judge model is needed.

``Hallucination`` scores the share of capitalised words of the output that the context
does not contain (lower is better, as DeepEval's LLM metric of that name);
``Toxicity`` the share of blocklisted words. One case evaluates a production interaction
and names it in ``additional_metadata``.
"""

from __future__ import annotations

from deepeval import assert_test
from deepeval.metrics import BaseMetric, PatternMatchMetric
from deepeval.test_case import LLMTestCase

BLOCKLIST = {"idiot", "stupid", "moron"}
PRODUCTION = {
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "user_id": "u-1042",
    "environment": "production",
    "service": "support-bot",
    "timestamp": "2026-12-01T09:30:00Z",
}


class _LowerIsBetter(BaseMetric):
    def __init__(self, threshold: float = 0.5):
        self.threshold = threshold

    def share(self, test_case: LLMTestCase) -> tuple[float, str]:
        raise NotImplementedError

    def measure(self, test_case: LLMTestCase, *args: object, **kwargs: object) -> float:
        self.score, self.reason = self.share(test_case)
        self.success = self.score <= self.threshold
        return self.score

    async def a_measure(self, test_case: LLMTestCase, *args: object, **kwargs: object) -> float:
        return self.measure(test_case)

    def is_successful(self) -> bool:
        return bool(self.success)


class Hallucination(_LowerIsBetter):
    def share(self, test_case: LLMTestCase) -> tuple[float, str]:
        names = [w.strip(".,") for w in test_case.actual_output.split() if w[:1].isupper()]
        context = " ".join(test_case.context or [])
        unsupported = [n for n in names if n not in context]
        return len(unsupported) / max(1, len(names)), f"not in the context: {unsupported}"

    @property
    def __name__(self) -> str:
        return "Hallucination"


class Toxicity(_LowerIsBetter):
    def share(self, test_case: LLMTestCase) -> tuple[float, str]:
        words = [w.strip(".,!").lower() for w in test_case.actual_output.split()]
        toxic = [w for w in words if w in BLOCKLIST]
        return len(toxic) / max(1, len(words)), f"blocklisted: {toxic}"

    @property
    def __name__(self) -> str:
        return "Toxicity"


def test_grounded_answer() -> None:
    case = LLMTestCase(
        input="Who founded Acme?",
        actual_output="Acme was founded by Alice Smith.",
        context=["Acme was founded by Alice Smith in 1999."],
    )
    assert_test(case, [Hallucination(), Toxicity(), PatternMatchMetric(pattern=r".*Acme.*")])


def test_production_hallucination() -> None:
    case = LLMTestCase(
        input="Who founded Acme?",
        actual_output="Acme was founded by Bob Marley in Kingston.",
        context=["Acme was founded by Alice Smith in 1999."],
        additional_metadata=PRODUCTION,
    )
    assert_test(case, [Hallucination(), Toxicity()])
