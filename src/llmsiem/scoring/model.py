"""The shipped prompt-injection model: loading it and scoring texts.

The model file (``injection_model.json.gz`` beside this module) is gzipped JSON: the
feature parameters, the intercept, and one little-endian float32 weight per hash bucket
(base64). A text's score is the logistic of ``intercept + sum(weights[b]) / sqrt(count)``
over the buckets ``b`` of its ``count`` character n-grams (see ``features``); a text
without n-grams scores the logistic of the intercept.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmsiem.scoring.features import NGRAM_SIZES, normalise, weighted_sums

MODEL_FILE = "injection_model.json.gz"
FORMAT = "llmsiem-injection-model/1"
DIGITS = 4
"""Scores are rounded to this many decimals, so every target compares the same number."""


class ModelError(Exception):
    """A model file that cannot be read or was built for other features."""


@dataclass(frozen=True)
class InjectionModel:
    """A linear model over hashed character n-grams."""

    bits: int
    intercept: float
    weights: npt.NDArray[np.float32]
    trained_on: dict[str, Any]

    def decisions(self, texts: Iterable[str]) -> npt.NDArray[np.float64]:
        """The raw linear scores (log-odds) of ``texts``, hashed as one batch."""
        sums, counts = weighted_sums([normalise(t) for t in texts], self.bits, self.weights)
        return self.intercept + sums / np.sqrt(np.maximum(counts, 1))

    def scores(self, texts: Iterable[str]) -> list[float]:
        """Probability-like score in [0, 1] of each text being a prompt attack, rounded."""
        odds = self.decisions(texts)
        return [round(float(p), DIGITS) for p in 1.0 / (1.0 + np.exp(-odds))]

    def score(self, text: str) -> float:
        """``scores`` of one text."""
        return self.scores([text])[0]

    def to_bytes(self) -> bytes:
        """The model file's content (gzip without a timestamp, so builds are byte-identical)."""
        document = {
            "format": FORMAT,
            "ngram_sizes": list(NGRAM_SIZES),
            "bits": self.bits,
            "intercept": self.intercept,
            "weights": base64.b64encode(self.weights.astype("<f4").tobytes()).decode(),
            "trained_on": self.trained_on,
        }
        text = json.dumps(document, sort_keys=True).encode()
        return gzip.compress(text, compresslevel=9, mtime=0)

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> InjectionModel:
        """Read a model file's content; ``where`` names it in errors."""
        try:
            document = json.loads(gzip.decompress(data))
            if document.get("format") != FORMAT:
                raise ModelError(f"{where}: not a {FORMAT} model")
            if tuple(document["ngram_sizes"]) != NGRAM_SIZES:
                raise ModelError(f"{where}: built for n-grams {document['ngram_sizes']}")
            bits = int(document["bits"])
            weights = np.frombuffer(base64.b64decode(document["weights"]), dtype="<f4")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{where}: cannot read the model ({exc})") from exc
        if len(weights) != 1 << bits:
            raise ModelError(f"{where}: {len(weights)} weights for {bits} bits")
        return cls(bits, float(document["intercept"]), weights, dict(document["trained_on"]))

    @classmethod
    def from_path(cls, path: Path) -> InjectionModel:
        try:
            return cls.from_bytes(path.read_bytes(), str(path))
        except OSError as exc:
            raise ModelError(f"{path}: cannot read the model ({exc})") from exc


@cache
def shipped_model() -> InjectionModel:
    """The model shipped in the package (read once)."""
    resource = resources.files("llmsiem.scoring").joinpath(MODEL_FILE)
    return InjectionModel.from_bytes(resource.read_bytes(), f"llmsiem/scoring/{MODEL_FILE}")
