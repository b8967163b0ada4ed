"""A local OpenAI-compatible chat completions server for the producer scripts (127.0.0.1).

Answers deterministically from the request: guardrail self-check prompts get ``Yes`` when the
checked user message asks to ignore previous instructions (else ``No``); such a request
itself gets a refusal; a weather question gets a ``get_weather`` tool call; anything else
a plain answer.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

INJECTION = "ignore previous instructions"
CHECKED_USER = re.compile(r'User message: "(.*?)"', re.S)


def _answer(messages: list[dict[str, Any]]) -> dict[str, Any]:
    last = str(messages[-1].get("content", "")) if messages else ""
    message: dict[str, Any] = {"role": "assistant"}
    finish = "stop"
    if "should the user message be blocked" in last.lower():
        checked = CHECKED_USER.search(last)
        flagged = bool(checked) and INJECTION in checked.group(1).lower()
        message["content"] = "Yes" if flagged else "No"
    elif "should the bot message be blocked" in last.lower():
        message["content"] = "No"
    elif INJECTION in last.lower():
        message["content"] = "I can't help with that request."
    elif "weather" in last.lower():
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": "call_weather_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ]
        finish = "tool_calls"
    else:
        message["content"] = "Our opening hours are 9 to 5."
    return {
        "id": f"chatcmpl-stub-{len(last)}",
        "object": "chat.completion",
        "created": 1796200000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": finish, "message": message}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 7, "total_tokens": 28},
    }


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        data = json.dumps(_answer(body.get("messages") or [])).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def start() -> str:
    """Start the server on a free port; its OpenAI base URL."""
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/v1"
