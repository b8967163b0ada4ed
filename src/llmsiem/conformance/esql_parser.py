"""Run Elastic's offline ES|QL parser and analyzer on queries: JSON on stdin, JSON on stdout.

This file runs as a script under the Python >= 3.12 interpreter of the ES|QL check venv
(``make esql-venv``: ``detection-rules-esql-py``, module ``esql``), not inside the llmsiem
package, so it imports nothing from llmsiem. Input::

    {"mapping": <index mappings>, "versions": ["8.19.0", "9.5.0"], "queries": ["from ..."]}

For each query and each stack version it runs ``esql.parse_query`` under a ``Schema`` made
from the mapping (syntax, feature gates, field names and types, function signatures).
Output::

    {"esql": "<package version>", "results": [{"errors": {"8.19.0": null, ...}, "ast": {...}}]}

``ast`` is the AST from the last listed version that accepted the query, as plain JSON (each
node ``{"_": class name, ...}``), or null when no version parsed the query.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _plain(node: Any) -> Any:
    import esql

    if isinstance(node, esql.ast.BaseNode):
        fields = {k: _plain(v) for k, v in vars(node).items() if k not in ("line", "column")}
        return {"_": type(node).__name__, **fields}
    if isinstance(node, list | tuple):
        return [_plain(item) for item in node]
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if node is None or isinstance(node, str | int | float | bool):
        return node
    return repr(node)


def check(request: dict[str, Any]) -> dict[str, Any]:
    import esql

    schema = esql.Schema(request["mapping"])
    results = []
    for query in request["queries"]:
        errors: dict[str, str | None] = {}
        tree = None
        for version in request["versions"]:
            try:
                with esql.ParserConfig(min_stack_version=version), schema:
                    tree = esql.parse_query(query)
                errors[version] = None
            except esql.EsqlError as error:
                errors[version] = f"{type(error).__name__}: {error}"
        results.append({"errors": errors, "ast": _plain(tree) if tree is not None else None})
    return {"esql": esql.__version__, "results": results}


if __name__ == "__main__":
    json.dump(check(json.load(sys.stdin)), sys.stdout)
