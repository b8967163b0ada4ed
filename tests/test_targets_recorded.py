"""Admin-API response actions against recorded (hand-written) HTTP exchanges."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmsiem.respond.action import Action
from llmsiem.respond.actions.http import (
    KeycloakUserDisable,
    LangfusePromptLabel,
    LiteLLMCustomerBlock,
    LiteLLMKeyBlock,
    OpenAIProjectKeyDelete,
)

CASSETTES = Path(__file__).parent / "cassettes"


def _cycle(action: Action, inputs: dict[str, str]) -> None:
    """plan -> execute -> verify -> undo, the contract every reversible action keeps."""
    plan = action.plan(inputs)
    assert plan.changes
    outcome = action.execute(inputs, "idem-1")
    assert action.verify(inputs, plan)
    action.undo(outcome.undo)


@pytest.mark.vcr(str(CASSETTES / "litellm_key_block.handwritten.yaml"))
def test_litellm_key_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSIEM_LITELLM_URL", "http://litellm.test:4000")
    monkeypatch.setenv("LLMSIEM_LITELLM_MASTER_KEY", "sk-master-test")
    action = LiteLLMKeyBlock()
    assert action.plan({"api_key": "sk-hashed-key-1"}).before == {"blocked": False}
    outcome = action.execute({"api_key": "sk-hashed-key-1"}, "k")
    assert outcome.response["blocked"] is True
    assert action.plan({"api_key": "sk-hashed-key-1"}).before == {"blocked": True}
    assert action.undo(outcome.undo)["blocked"] is False


@pytest.mark.vcr(str(CASSETTES / "litellm_customer_block.handwritten.yaml"))
def test_litellm_customer_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSIEM_LITELLM_URL", "http://litellm.test:4000")
    monkeypatch.setenv("LLMSIEM_LITELLM_MASTER_KEY", "sk-master-test")
    _cycle(LiteLLMCustomerBlock(), {"end_user": "cust-991"})


@pytest.mark.vcr(str(CASSETTES / "openai_project_key_delete.handwritten.yaml"))
def test_openai_project_key_delete_is_irreversible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSIEM_OPENAI_ADMIN_KEY", "sk-admin-test")
    monkeypatch.setenv("LLMSIEM_OPENAI_API_BASE", "https://api.openai.test")
    monkeypatch.setenv("LLMSIEM_OPENAI_PROJECT_ID", "proj_abc")
    action = OpenAIProjectKeyDelete()
    assert action.impact == "irreversible" and not action.reversible
    plan = action.plan({"api_key": "key_abc"})
    assert plan.before == {"exists": True}
    assert action.execute({"api_key": "key_abc"}, "k").response["deleted"] is True
    assert action.verify({"api_key": "key_abc"}, plan)
    with pytest.raises(NotImplementedError):
        action.undo({})


@pytest.mark.vcr(str(CASSETTES / "langfuse_prompt_label.handwritten.yaml"))
def test_langfuse_label_rollback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSIEM_LANGFUSE_URL", "http://langfuse.test:3000")
    monkeypatch.setenv("LLMSIEM_LANGFUSE_PUBLIC_KEY", "pk-lf-test")
    monkeypatch.setenv("LLMSIEM_LANGFUSE_SECRET_KEY", "sk-lf-test")
    action = LangfusePromptLabel()
    inputs = {"prompt_name": "support-answer", "label": "production"}
    plan = action.plan(inputs)
    assert (plan.before, plan.after) == ({"production": 8}, {"production": 7})
    outcome = action.execute(inputs, "k")
    assert outcome.undo == {"name": "support-answer", "label": "production", "version": 8}
    assert action.verify(inputs, plan)
    assert action.undo(outcome.undo)["version"] == 8


@pytest.mark.vcr(str(CASSETTES / "keycloak_user_disable.handwritten.yaml"))
def test_keycloak_disable_and_logout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSIEM_KEYCLOAK_URL", "http://keycloak.test:8080")
    monkeypatch.setenv("LLMSIEM_KEYCLOAK_REALM", "acme")
    monkeypatch.setenv("LLMSIEM_KEYCLOAK_TOKEN", "token-test")
    _cycle(KeycloakUserDisable(), {"user": "4f9a5b6c-1111-4222-8333-944455556666"})
