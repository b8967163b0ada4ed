"""Filling ``llmsiem.prompt.injection_score`` on events, one document or a table at a time.

Both run after scrubbing: the score is of the prompt text the SIEM receives, so anyone
holding a shipped event can recompute it, and a secret the scrubber removed never reaches
the model. A score the record already carried is replaced: the pipeline is its only author.
"""

from __future__ import annotations

from typing import Any

from llmsiem.columns import column_ref

SCORE_FIELD = "llmsiem.prompt.injection_score"
TEXT_FIELD = "llmsiem.prompt.text"


def enrich(documents: list[dict[str, Any]]) -> None:
    """Set the injection score of every nested event document that has prompt text, the
    texts scored as one batch."""
    prompts = []
    for document in documents:
        extension = document.get("llmsiem")
        prompt = extension.get("prompt") if isinstance(extension, dict) else None
        if isinstance(prompt, dict) and isinstance(prompt.get("text"), str):
            prompts.append(prompt)
    if prompts:
        from llmsiem.scoring.model import shipped_model  # numpy on the first score only

        scores = shipped_model().scores([prompt["text"] for prompt in prompts])
        for prompt, score in zip(prompts, scores, strict=True):
            prompt["injection_score"] = score


def score_table(con: Any, table: str, where: str) -> None:
    """Set the injection score of the rows of DuckDB ``table`` matching ``where`` that have
    prompt text, scoring each distinct text once."""
    text = column_ref(TEXT_FIELD)
    texts = [
        value
        for (value,) in con.execute(
            f"SELECT DISTINCT {text} FROM {table} WHERE ({where}) AND {text} IS NOT NULL"
        ).fetchall()
    ]
    if not texts:
        return
    from llmsiem.scoring.model import shipped_model

    con.execute(
        "CREATE OR REPLACE TEMP TABLE score_map AS SELECT unnest($1) AS text, unnest($2) AS score",
        [texts, shipped_model().scores(texts)],
    )
    # The score has a column of its own in the event table (``OWN_COLUMN_FIELDS``), so
    # this UPDATE does not rewrite the nested ``llmsiem`` column.
    con.execute(
        f"""UPDATE {table} e SET {column_ref(SCORE_FIELD)} = CAST(m.score AS DOUBLE)
            FROM score_map m WHERE m.text = e.{text} AND ({where})"""
    )
    con.execute("DROP TABLE score_map")
