"""Training the shipped prompt-injection model (``make scorer``).

Trains only on rows of the ``tune`` half (``llmsiem.evaluation.in_split``, the split
``llmsiem eval --split`` uses) of the development corpora and of the project's own labelled
data (``corpora/paraphrases``, ``corpora/hard_negatives``), so the ``check`` half stays
held out. Rows are prompt texts, scrubbed as the pipeline scrubs them before scoring; rows
whose attack sits in retrieved context (BIPIA), tool calls and payment-data prompts are not
prompt attacks and are left out. Each attack family and benign set weighs
``1/sqrt(rows)`` per row and both labels weigh the same in total, so small families count.
Logistic regression (scikit-learn, liblinear, fixed seed) makes the run deterministic:
``python -m llmsiem.scoring.train --corpora ../shared/corpora/dev`` writes the same bytes.
scikit-learn and scipy are needed here only, never at inference.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmsiem.evaluation import SOURCES, in_split, labelled_rows
from llmsiem.scoring.features import buckets, normalise
from llmsiem.scoring.model import MODEL_FILE, InjectionModel
from llmsiem.scrub import Scrubber

BITS = 17
C = 1.0
OWN_DATA = (
    Path("corpora/paraphrases/llmsiem_paraphrases.jsonl"),
    Path("corpora/hard_negatives/llmsiem_hard_negatives.jsonl"),
)
NOT_PROMPT_ATTACKS = frozenset({"payment_data_in_prompt"})


def training_rows(
    corpora: Path, own: tuple[Path, ...] = OWN_DATA, split: str = "tune"
) -> Iterator[tuple[str, str, bool]]:
    """(group, scrubbed prompt text, is attack) of every prompt row in ``split``."""
    scrubber = Scrubber("redact")
    sources = [source(corpora) for source in SOURCES] + [labelled_rows(p) for p in own]
    for rows in sources:
        for case_id, label, group, _kind, partials in rows:
            prompt = partials[0]
            if (
                len(partials) != 1
                or "llmsiem.prompt.text" not in prompt
                or "llmsiem.context.text" in prompt
                or group in NOT_PROMPT_ATTACKS
                or not in_split(case_id, split)
            ):
                continue
            text = scrubber.scrub_text(str(prompt["llmsiem.prompt.text"])).text
            yield group, text, label == "attack"


def feature_matrix(texts: list[str], bits: int = BITS) -> Any:
    """Sparse rows of the hashed n-gram features (``features``) of ``texts``."""
    from scipy.sparse import csr_matrix

    columns, values, offsets = [], [], [0]
    for text in texts:
        found = buckets(normalise(text), bits)
        columns.append(found)
        values.append(np.full(len(found), 1.0 / math.sqrt(max(len(found), 1))))
        offsets.append(offsets[-1] + len(found))
    matrix = csr_matrix(
        (np.concatenate(values), np.concatenate(columns), np.array(offsets)),
        shape=(len(texts), 1 << bits),
    )
    matrix.sum_duplicates()
    return matrix


def sample_weights(groups: list[str], labels: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """``1/sqrt(rows of its group)`` per row, each label scaled to half the total weight."""
    sizes = Counter(groups)
    weights = np.array([1.0 / math.sqrt(sizes[g]) for g in groups])
    for value in (True, False):
        chosen = labels == value
        weights[chosen] *= len(groups) / 2 / weights[chosen].sum()
    return weights


def fit(groups: list[str], texts: list[str], labels: list[bool]) -> tuple[InjectionModel, Any]:
    """The model trained on these rows, and the scikit-learn estimator it came from."""
    from sklearn.linear_model import LogisticRegression

    y = np.array(labels)
    estimator = LogisticRegression(C=C, solver="liblinear", max_iter=3000, random_state=0)
    estimator.fit(feature_matrix(texts), y, sample_weight=sample_weights(groups, y))
    trained_on = {
        "rows": len(texts),
        "attack_rows": int(y.sum()),
        "data": "tune half (seed llmsiem-issue-13) of the dev corpora, corpora/paraphrases "
        "and corpora/hard_negatives",
        "C": C,
    }
    weights = estimator.coef_[0].astype(np.float32)
    return InjectionModel(BITS, float(estimator.intercept_[0]), weights, trained_on), estimator


THRESHOLDS = (0.2, 0.65, 0.9)
"""The score thresholds the pack's rules use (``llmsiem.prompt.injection_score|gte``)."""


def out_of_fold_rates(
    groups: list[str], texts: list[str], labels: list[bool], folds: int = 5
) -> dict[str, list[float]]:
    """Per group, the share of rows at or above each of ``THRESHOLDS`` when each row is
    scored by a model trained on the other folds (seeded): what thresholds are chosen from,
    since the shipped model has seen every tune row."""
    fold = np.random.default_rng(13).integers(0, folds, len(texts))
    scores = np.zeros(len(texts))
    for k in range(folds):
        train = [i for i in range(len(texts)) if fold[i] != k]
        model, _ = fit(
            [groups[i] for i in train], [texts[i] for i in train], [labels[i] for i in train]
        )
        held = [i for i in range(len(texts)) if fold[i] == k]
        scores[held] = model.scores([texts[i] for i in held])
    rates = {}
    for group in sorted(set(groups)):
        mine = scores[[g == group for g in groups]]
        rates[group] = [float(np.mean(mine >= t)) for t in THRESHOLDS]
    return rates


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora/dev"))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name(MODEL_FILE))
    parser.add_argument(
        "--thresholds",
        action="store_true",
        help="print 5-fold out-of-fold rates at the rules' thresholds instead of training",
    )
    args = parser.parse_args(argv)
    if not args.corpora.is_dir():
        parser.error(f"{args.corpora}: corpora folder not found")
    groups, texts, labels = zip(*training_rows(args.corpora), strict=True)
    if args.thresholds:
        print("group (tune half, out of fold)", *(f">={t}" for t in THRESHOLDS), sep="\t")
        rates = out_of_fold_rates(list(groups), list(texts), list(labels))
        for group, shares in rates.items():
            print(group, *(f"{share:.3f}" for share in shares), sep="\t")
        return
    model, _ = fit(list(groups), list(texts), list(labels))
    args.out.write_bytes(model.to_bytes())
    print(f"{args.out}: {len(texts)} rows ({sum(labels)} attacks), {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
