"""An instrumented LLM app for the collect tests: the OpenAI client around a local stub server.

``python collect_otel_app.py COLLECT_URL MODE PROMPT...``: starts a stub of OpenAI's chat
completions API on 127.0.0.1, instruments the real ``openai`` client with
``opentelemetry-instrumentation-openai-v2``, sends each PROMPT, and exports the telemetry
with the real OTLP/HTTP exporters (protobuf) to COLLECT_URL. MODE is ``span_only`` (latest
GenAI conventions, content on the span) or ``event_only`` (latest conventions, content in a
``gen_ai.client.inference.operation.details`` log event). The bearer token comes from
``LLMSIEM_COLLECT_TOKEN``. Prints one JSON line: the export results and the trace ids.
Exit 0 when every export succeeded.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMPLETION = {
    "id": "chatcmpl-stub",
    "object": "chat.completion",
    "created": 1764680000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "I cannot help with that."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 31, "completion_tokens": 7, "total_tokens": 38},
}


class StubOpenAI(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        body = json.dumps(COMPLETION).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def main(collect_url: str, mode: str, prompts: list[str]) -> int:
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = mode
    import openai
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    results: list[str] = []

    class RecordingSpanExporter(OTLPSpanExporter):
        def export(self, spans: Any) -> Any:
            result = super().export(spans)
            results.append(f"traces:{result.name}")
            return result

    class RecordingLogExporter(OTLPLogExporter):
        def export(self, batch: Any) -> Any:
            result = super().export(batch)
            results.append(f"logs:{result.name}")
            return result

    headers = {"Authorization": f"Bearer {os.environ['LLMSIEM_COLLECT_TOKEN']}"}
    resource = Resource.create({"service.name": "support-chat", "service.version": "1.4.2"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(
            RecordingSpanExporter(endpoint=f"{collect_url}/v1/traces", headers=headers)
        )
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(
            RecordingLogExporter(endpoint=f"{collect_url}/v1/logs", headers=headers)
        )
    )
    OpenAIInstrumentor().instrument(
        tracer_provider=tracer_provider, logger_provider=logger_provider
    )
    stub = ThreadingHTTPServer(("127.0.0.1", 0), StubOpenAI)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{stub.server_address[1]}/v1", api_key="sk-stub-not-a-key"
    )
    traces = []
    tracer = tracer_provider.get_tracer("collect-test-app")
    for prompt in prompts:
        with tracer.start_as_current_span("handle-request") as parent:
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": "You are the ACME support assistant."},
                    {"role": "user", "content": prompt},
                ],
                user="customer-42",
            )
            traces.append(format(parent.get_span_context().trace_id, "032x"))
    tracer_provider.shutdown()
    logger_provider.shutdown()
    stub.shutdown()
    print(json.dumps({"results": results, "traces": traces}))
    return 0 if results and all(r.endswith("SUCCESS") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
