"""Filling ``llmsiem.prompt.injection_score`` on events, one document or a table at a time.

Both run after scrubbing: the score is of the prompt text the SIEM receives, so anyone
holding a shipped event can recompute it, and a secret the scrubber removed never reaches
the model. A score the record already carried is replaced: the pipeline is its only author.
"""

from __future__ import annotations

from typing import Any

SCORE_FIELD = "llmsiem.prompt.injection_score"
_TEXT = '"llmsiem"."prompt"."text"'


def enrich(document: dict[str, Any]) -> None:
    """Set the injection score of a nested event document that has prompt text."""
    extension = document.get("llmsiem")
    prompt = extension.get("prompt") if isinstance(extension, dict) else None
    if isinstance(prompt, dict) and isinstance(prompt.get("text"), str):
        from llmsiem.scoring.model import shipped_model  # numpy on the first score only

        prompt["injection_score"] = shipped_model().score(prompt["text"])


def score_table(con: Any, table: str, where: str) -> None:
    """Set the injection score of the rows of DuckDB ``table`` matching ``where`` that have
    prompt text, scoring each distinct text once."""
    texts = [
        text
        for (text,) in con.execute(
            f"SELECT DISTINCT {_TEXT} FROM {table} WHERE ({where}) AND {_TEXT} IS NOT NULL"
        ).fetchall()
    ]
    if not texts:
        return
    from llmsiem.scoring.model import shipped_model

    con.execute(
        "CREATE OR REPLACE TEMP TABLE score_map AS SELECT unnest($1) AS text, unnest($2) AS score",
        [texts, shipped_model().scores(texts)],
    )
    # One UPDATE of the nested member: cheaper in DuckDB than rewriting the rows by delete
    # and insert through a temporary table.
    con.execute(
        f"""UPDATE {table} e SET "llmsiem" = struct_update(e."llmsiem", "prompt" :=
                struct_update(e."llmsiem"."prompt", "injection_score" := CAST(m.score AS DOUBLE)))
            FROM score_map m WHERE m.text = {_TEXT.replace('"llmsiem"', 'e."llmsiem"', 1)}
            AND ({where})"""
    )
    con.execute("DROP TABLE score_map")
