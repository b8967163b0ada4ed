"""Bodies of LiteLLM's generic API logger (``callbacks: ["generic_api"]``).

The logger (``litellm/integrations/generic_api/generic_api_callback.py``) posts batches of
``StandardLoggingPayload`` with ``Content-Type: application/json`` in one of three
``log_format`` values: ``json_array`` (the default: one JSON array per batch), ``ndjson`` (one
payload per line) or ``single`` (one JSON object per request). All three are accepted here.
"""

from __future__ import annotations

import json
from typing import Any

from llmsiem.collect.otlp import BodyError


def payloads(body: bytes) -> list[dict[str, Any]]:
    """The payloads of one request, in order; BodyError if any is not a JSON object."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise BodyError("JSON nested too deep") from None
    except ValueError:
        document = None
        lines = [line for line in body.splitlines() if line.strip()]
        try:
            items = [json.loads(line) for line in lines]
        except RecursionError:
            raise BodyError("JSON nested too deep") from None
        except ValueError as exc:
            raise BodyError(f"neither JSON nor NDJSON: {exc}") from None
    else:
        items = document if isinstance(document, list) else [document]
    for number, item in enumerate(items):
        if not isinstance(item, dict):
            raise BodyError(f"payload {number} is not a JSON object")
    return items
