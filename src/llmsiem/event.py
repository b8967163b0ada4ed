"""The normalized LLM security-telemetry event.

Field names follow OpenTelemetry GenAI semantic conventions v1.41 (``gen_ai.*``) and
ECS core (``@timestamp``, ``event.*``, ``user.*``, ``source.ip``, ``trace.id`` ...).
Everything neither standard defines lives under the single extension namespace
``llmsiem.*`` (see ``schema/FIELDS.md``). Documents are nested JSON objects, exactly as
Elasticsearch stores ECS documents; ``flatten`` gives the dotted view rules use.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    NonNegativeFloat,
    NonNegativeInt,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

SCHEMA_VERSION = "1.0.0"
OTEL_GENAI_SEMCONV_VERSION = "1.41.0"
ECS_VERSION = "8.17.0"

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
IpAddress = Annotated[
    IPvAnyAddress,
    WithJsonSchema({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}),
]


class Strict(BaseModel):
    """Base for every field set: unknown fields are errors, aliases are the wire names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False)


class EventAction(StrEnum):
    """What an event records; ``event.action`` carries it."""

    PROMPT = "prompt"
    RESPONSE = "response"
    TOOL_CALL = "tool_call"
    USAGE = "usage"
    GUARDRAIL = "guardrail"
    REFUSAL = "refusal"
    EVALUATION = "evaluation"


EcsCategory = Literal[
    "api", "authentication", "configuration", "intrusion_detection", "network", "session", "web"
]
EcsType = Literal[
    "access", "admin", "allowed", "change", "denied", "end", "error", "info", "start", "user"
]


def _default_category() -> list[EcsCategory]:
    return ["api"]


def _default_type() -> list[EcsType]:
    return ["info"]


class EventFields(Strict):
    """ECS ``event.*``."""

    kind: Literal["event", "alert", "pipeline_error"] = "event"
    action: EventAction
    category: list[EcsCategory] = Field(default_factory=_default_category)
    type: list[EcsType] = Field(default_factory=_default_type)
    outcome: Literal["success", "failure", "unknown"] | None = None
    id: NonEmptyStr | None = None
    dataset: str = "llmsiem.telemetry"
    module: str | None = Field(default=None, description="Source the event came from.")
    duration: NonNegativeInt | None = Field(default=None, description="Nanoseconds.")
    created: AwareDatetime | None = None
    ingested: AwareDatetime | None = None
    original: str | None = None


class UserFields(Strict):
    """ECS ``user.*``: the authenticated principal calling the LLM application."""

    id: NonEmptyStr | None = None
    name: str | None = None
    email: str | None = None


class GeoFields(Strict):
    """ECS ``source.geo.*``."""

    country_iso_code: str | None = None


class AutonomousSystemFields(Strict):
    """ECS ``source.as.*``."""

    number: NonNegativeInt | None = None


class SourceFields(Strict):
    """ECS ``source.*``."""

    ip: IpAddress | None = None
    geo: GeoFields | None = None
    as_: AutonomousSystemFields | None = Field(default=None, alias="as")


class HttpResponseFields(Strict):
    status_code: NonNegativeInt | None = None


class HttpFields(Strict):
    """OTel/ECS ``http.*``: the HTTP exchange that carried the LLM call."""

    response: HttpResponseFields | None = None


class UrlFields(Strict):
    """OTel/ECS ``url.*``: the URL a tool call or request reached."""

    full: str | None = None
    domain: str | None = None


class CloudAccountFields(Strict):
    id: str | None = None


class CloudFields(Strict):
    """OTel/ECS ``cloud.*``: where the model endpoint runs."""

    region: str | None = None
    account: CloudAccountFields | None = None


class McpMethod(Strict):
    name: str | None = Field(default=None, examples=["tools/call", "tools/list", "resources/read"])


class McpSession(Strict):
    id: str | None = None


class McpResource(Strict):
    uri: str | None = None


class McpProtocol(Strict):
    version: str | None = None


class McpFields(Strict):
    """OTel MCP semantic conventions (``mcp.*``)."""

    method: McpMethod | None = None
    session: McpSession | None = None
    resource: McpResource | None = None
    protocol: McpProtocol | None = None


class UserAgentFields(Strict):
    """ECS ``user_agent.*``."""

    original: str | None = None


class IdFields(Strict):
    """ECS ``trace.*`` / ``span.*``."""

    id: NonEmptyStr


class ServiceFields(Strict):
    """ECS ``service.*``: the LLM application and its deployment environment."""

    name: str | None = None
    environment: str | None = None
    version: str | None = None


class OrganizationFields(Strict):
    """ECS ``organization.*``: tenant."""

    id: str | None = None
    name: str | None = None


class ErrorFields(Strict):
    """ECS ``error.*``."""

    message: str | None = None
    type: str | None = None


class MessagePart(BaseModel):
    """One part of an OTel GenAI message (``text``, ``tool_call``, ``tool_call_response`` ...)."""

    model_config = ConfigDict(extra="allow")
    type: NonEmptyStr
    content: Any = None


class ChatMessage(BaseModel):
    """OTel GenAI input/output message (``gen_ai.input.messages`` item)."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool"]
    parts: list[MessagePart] = Field(default_factory=list)
    finish_reason: str | None = None


class GenAIOperation(Strict):
    name: str | None = Field(default=None, examples=["chat", "execute_tool", "embeddings"])


class GenAIProvider(Strict):
    name: str | None = Field(default=None, examples=["openai", "anthropic", "aws.bedrock"])


class GenAIRequest(Strict):
    model: str | None = None
    max_tokens: NonNegativeInt | None = None
    temperature: float | None = None


class GenAIResponse(Strict):
    id: str | None = None
    model: str | None = None
    finish_reasons: list[str] | None = None
    time_to_first_chunk: NonNegativeFloat | None = Field(default=None, description="Seconds.")


class GenAICacheTokens(Strict):
    input_tokens: NonNegativeInt | None = None


class GenAIReasoningTokens(Strict):
    output_tokens: NonNegativeInt | None = None


class GenAIUsage(Strict):
    input_tokens: NonNegativeInt | None = None
    output_tokens: NonNegativeInt | None = None
    cache_read: GenAICacheTokens | None = None
    cache_creation: GenAICacheTokens | None = None
    reasoning: GenAIReasoningTokens | None = None


class GenAIToolCall(Strict):
    id: str | None = None
    arguments: str | None = Field(default=None, description="JSON-encoded tool arguments.")
    result: str | None = Field(default=None, description="JSON-encoded or textual tool result.")


class GenAITool(Strict):
    name: str | None = None
    type: str | None = Field(default=None, examples=["function", "extension", "datastore"])
    description: str | None = None
    call: GenAIToolCall | None = None


class GenAIConversation(Strict):
    id: str | None = None


class GenAIAgent(Strict):
    id: str | None = None
    name: str | None = None


class GenAIDataSource(Strict):
    id: str | None = Field(default=None, description="RAG or agent data source identifier.")


class GenAIMessages(Strict):
    messages: list[ChatMessage] | None = None


class GenAIFields(Strict):
    """OpenTelemetry GenAI v1.41 attributes, nested by their dotted names."""

    operation: GenAIOperation | None = None
    provider: GenAIProvider | None = None
    request: GenAIRequest | None = None
    response: GenAIResponse | None = None
    usage: GenAIUsage | None = None
    tool: GenAITool | None = None
    conversation: GenAIConversation | None = None
    agent: GenAIAgent | None = None
    data_source: GenAIDataSource | None = None
    input: GenAIMessages | None = None
    output: GenAIMessages | None = None
    system_instructions: list[MessagePart] | None = None


class ApiKeyFields(Strict):
    """API key identity. Never the secret: only id, alias and a SHA-256 of the key."""

    id: str | None = None
    alias: str | None = None
    hash: Sha256Hex | None = None


class TeamFields(Strict):
    id: str | None = None
    alias: str | None = None


class EndUserFields(Strict):
    id: str | None = Field(default=None, description="End customer of the LLM application.")


class TemplateFields(Strict):
    name: str | None = None
    version: str | None = None
    sha256: Sha256Hex | None = None


class PromptFields(Strict):
    """Flattened prompt text the rules inspect, plus the template it was rendered from."""

    text: str | None = Field(default=None, description="User-turn text of the request.")
    chars: NonNegativeInt | None = None
    injection_score: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Score in [0, 1] of the shipped prompt-injection model on the scrubbed text.",
    )
    template: TemplateFields | None = None


class ContextFields(Strict):
    text: str | None = Field(
        default=None,
        description="Text that entered the context from tools or retrieval (indirect channel).",
    )


class SystemInstructionsFields(Strict):
    sha256: Sha256Hex | None = None


class ResponseFields(Strict):
    text: str | None = None
    reasoning: str | None = Field(
        default=None, description="Reasoning parts of gen_ai.output.messages, joined."
    )
    chars: NonNegativeInt | None = None
    refusal: bool | None = None
    echoes_system_instructions: bool | None = Field(
        default=None, description="Output repeats a long span of the system instructions."
    )


class ToolFields(Strict):
    status: Literal["success", "error", "denied", "pending"] | None = None
    description_sha256: Sha256Hex | None = Field(
        default=None, description="SHA-256 of gen_ai.tool.description (tool-poisoning drift)."
    )


class McpServerFields(Strict):
    name: str | None = None
    version: str | None = None


class LlmsiemMcpFields(Strict):
    """MCP facts OTel does not name: the server behind a tool."""

    server: McpServerFields | None = None


class LabelFields(Strict):
    """Ground truth of generated telemetry; never set on real events."""

    scenario: str | None = None
    malicious: bool | None = None


class UsageFields(Strict):
    cost: NonNegativeFloat | None = Field(default=None, description="Cost in USD.")
    total_tokens: NonNegativeInt | None = None


class GuardrailFields(Strict):
    name: str | None = None
    provider: str | None = None
    action: Literal["allow", "block", "redact", "flag"] | None = None
    categories: list[str] | None = None
    score: float | None = None
    stage: Literal["input", "output", "tool"] | None = None


class EvaluationFields(Strict):
    """Verdict of an evaluation metric (DeepEval ...) on one model interaction."""

    metric: str | None = Field(default=None, examples=["Hallucination", "Toxicity"])
    provider: str | None = Field(default=None, examples=["deepeval"])
    score: float | None = None
    threshold: float | None = None
    success: bool | None = Field(default=None, description="The metric passed its threshold.")
    reason: str | None = None
    test_case: str | None = Field(default=None, description="Name of the evaluated test case.")
    model: str | None = Field(default=None, description="Model that judged, for LLM metrics.")


class RedactionFields(Strict):
    mode: Literal["redact", "hash", "keep"] | None = None
    types: list[str] = Field(default_factory=list)
    count: NonNegativeInt = 0


class LlmsiemFields(Strict):
    """The extension namespace: everything OTel GenAI and ECS do not define."""

    schema_version: str = SCHEMA_VERSION
    api_key: ApiKeyFields | None = None
    team: TeamFields | None = None
    end_user: EndUserFields | None = None
    prompt: PromptFields | None = None
    context: ContextFields | None = None
    system_instructions: SystemInstructionsFields | None = None
    response: ResponseFields | None = None
    tool: ToolFields | None = None
    usage: UsageFields | None = None
    guardrail: GuardrailFields | None = None
    evaluation: EvaluationFields | None = None
    redaction: RedactionFields | None = None
    mcp: LlmsiemMcpFields | None = None
    label: LabelFields | None = None


RAW_KEY_PREFIX = r"^(sk-|sk_|AKIA|ghp_|xox[abp]-)"
RAW_KEY_MIN_LENGTH = 21
"""An ``llmsiem.api_key`` id or alias with such a prefix and length is a raw secret."""
_RAW_KEY = re.compile(RAW_KEY_PREFIX)


def refuse_raw_api_key(key_id: str | None, alias: str | None) -> None:
    """Raise ``ValueError`` when ``llmsiem.api_key``'s id or alias looks like a raw secret."""
    for name, val in (("id", key_id), ("alias", alias)):
        if val and _RAW_KEY.match(val) and len(val) >= RAW_KEY_MIN_LENGTH:
            raise ValueError(
                f"api_key.{name} looks like a raw secret key; store its id, alias or hash"
            )


class LLMEvent(Strict):
    """One normalized LLM security-telemetry event."""

    timestamp: AwareDatetime = Field(alias="@timestamp")
    event: EventFields
    user: UserFields | None = None
    source: SourceFields | None = None
    user_agent: UserAgentFields | None = None
    trace: IdFields | None = None
    span: IdFields | None = None
    service: ServiceFields | None = None
    organization: OrganizationFields | None = None
    error: ErrorFields | None = None
    http: HttpFields | None = None
    url: UrlFields | None = None
    cloud: CloudFields | None = None
    mcp: McpFields | None = None
    labels: dict[str, str] | None = None
    gen_ai: GenAIFields | None = None
    llmsiem: LlmsiemFields = Field(default_factory=LlmsiemFields)

    @field_validator("llmsiem")
    @classmethod
    def _no_raw_api_key(cls, value: LlmsiemFields) -> LlmsiemFields:
        key = value.api_key
        if key is not None:
            refuse_raw_api_key(key.id, key.alias)
        return value

    def to_document(self) -> dict[str, Any]:
        """The event as the nested JSON document sinks and the engine store."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def set_dotted(document: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a dotted field on a nested document (``@timestamp`` stays a top-level key)."""
    *parents, leaf = _path(dotted)
    node = document
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


@lru_cache(maxsize=4096)  # bounded: some callers set names taken from input data
def _path(dotted: str) -> tuple[str, ...]:
    """The keys of a dotted field, split once per name (alerts set the same few often)."""
    return (dotted,) if dotted == "@timestamp" else tuple(dotted.split("."))


def get_dotted(document: dict[str, Any], dotted: str) -> Any:
    """A dotted field of a nested document, or None when any level is missing."""
    node: Any = document
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted view of a nested document: ``{"user": {"id": 1}}`` -> ``{"user.id": 1}``.

    Lists are kept as values (Sigma matches any element of a list).
    """
    flat: dict[str, Any] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
