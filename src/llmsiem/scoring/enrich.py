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
    prompt = 'e."llmsiem"."prompt"'
    updated = (
        f'struct_update(e."llmsiem", "prompt" := struct_update({prompt}, '
        '"injection_score" := CAST(m.score AS DOUBLE)))'
    )
    # Rows are rewritten by delete and insert, as the bulk scrubber does: cheaper in DuckDB
    # than an UPDATE of a nested column.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE scored_rows AS
            SELECT e.* REPLACE ({updated} AS "llmsiem") FROM {table} e
            JOIN score_map m ON m.text = {prompt}."text" WHERE ({where})"""
    )
    con.execute(f"DELETE FROM {table} WHERE ({where}) AND {_TEXT} IS NOT NULL")
    con.execute(f"INSERT INTO {table} SELECT * FROM scored_rows")
    con.execute("DROP TABLE scored_rows")
    con.execute("DROP TABLE score_map")
