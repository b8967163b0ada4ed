"""Scored enrichment: a small shipped model adds ``llmsiem.prompt.injection_score``.

``enrich`` fills the score of scrubbed documents (their texts as one batch),
``score_table`` of the rows of a DuckDB events table (the bulk load path); both score the
prompt text after scrubbing, which is the text the SIEM receives, so a score can be
recomputed from the shipped event.
The model (``model``, numpy) is imported on the first score, not with the pipeline.
"""

from llmsiem.scoring.enrich import SCORE_FIELD, enrich, score_table

__all__ = ["SCORE_FIELD", "enrich", "score_table"]
