"""HTTP admin APIs: LiteLLM proxy, OpenAI Admin, Langfuse prompts, Keycloak, webhooks.

Each action reads its URL and credential from the environment; an unconfigured one raises
``NotConfiguredError`` and the runner records the step as skipped. Credentials are sent as
headers and never logged or stored in the audit log.
"""

from __future__ import annotations

import os
from typing import Any

import requests

from llmsiem.respond.action import Action, NotConfiguredError, Outcome, Plan

TIMEOUT = 15


def _env(*names: str) -> list[str]:
    values = [os.environ.get(name, "") for name in names]
    if not all(values):
        missing = [n for n, v in zip(names, values, strict=True) if not v]
        raise NotConfiguredError(f"set {', '.join(missing)}")
    return values


def _check(response: requests.Response) -> Any:
    response.raise_for_status()
    return response.json() if response.content else {}


class LiteLLMAdminAction(Action):
    """Base of LiteLLM proxy admin actions: URL and master key from the environment."""

    impact = "high"

    def _conf(self) -> tuple[str, dict[str, str]]:
        url, master = _env("LLMSIEM_LITELLM_URL", "LLMSIEM_LITELLM_MASTER_KEY")
        return url.rstrip("/"), {"Authorization": f"Bearer {master}"}


class LiteLLMKeyBlock(LiteLLMAdminAction):
    """LiteLLM proxy ``/key/block`` (undo: ``/key/unblock``); reads ``/key/info``."""

    name = "litellm_block_key"

    def principal(self, inputs: dict[str, str]) -> str:
        return inputs["api_key"]

    def _blocked(self, key: str) -> bool:
        url, headers = self._conf()
        info = _check(
            requests.get(f"{url}/key/info", params={"key": key}, headers=headers, timeout=TIMEOUT)
        )
        return bool(info.get("info", {}).get("blocked"))

    def plan(self, inputs: dict[str, str]) -> Plan:
        key = self.principal(inputs)
        return Plan(self.name, key, {"blocked": self._blocked(key)}, {"blocked": True}, self.impact)

    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        url, headers = self._conf()
        key = self.principal(inputs)
        response = _check(
            requests.post(f"{url}/key/block", json={"key": key}, headers=headers, timeout=TIMEOUT)
        )
        return Outcome(response, {"key": key})

    def undo(self, handle: dict[str, Any]) -> Any:
        url, headers = self._conf()
        return _check(
            requests.post(
                f"{url}/key/unblock", json={"key": handle["key"]}, headers=headers, timeout=TIMEOUT
            )
        )


class LiteLLMCustomerBlock(LiteLLMAdminAction):
    """LiteLLM proxy ``/customer/block`` (undo: ``/customer/unblock``) for end users."""

    name = "litellm_block_customer"

    def principal(self, inputs: dict[str, str]) -> str:
        return inputs["end_user"]

    def _blocked(self, user: str) -> bool:
        url, headers = self._conf()
        info = _check(
            requests.get(
                f"{url}/customer/info",
                params={"end_user_id": user},
                headers=headers,
                timeout=TIMEOUT,
            )
        )
        return bool(info.get("blocked"))

    def plan(self, inputs: dict[str, str]) -> Plan:
        user = self.principal(inputs)
        return Plan(
            self.name, user, {"blocked": self._blocked(user)}, {"blocked": True}, self.impact
        )

    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        url, headers = self._conf()
        user = self.principal(inputs)
        body = {"user_ids": [user]}
        return Outcome(
            _check(
                requests.post(f"{url}/customer/block", json=body, headers=headers, timeout=TIMEOUT)
            ),
            {"user": user},
        )

    def undo(self, handle: dict[str, Any]) -> Any:
        url, headers = self._conf()
        body = {"user_ids": [handle["user"]]}
        return _check(
            requests.post(f"{url}/customer/unblock", json=body, headers=headers, timeout=TIMEOUT)
        )


class OpenAIProjectKeyDelete(Action):
    """OpenAI Admin API: delete a project API key. Irreversible, so always approved first."""

    name = "openai_delete_project_key"
    impact = "irreversible"
    reversible = False

    def _conf(self) -> tuple[str, dict[str, str]]:
        (admin,) = _env("LLMSIEM_OPENAI_ADMIN_KEY")
        base = os.environ.get("LLMSIEM_OPENAI_API_BASE", "https://api.openai.com")
        return base.rstrip("/"), {"Authorization": f"Bearer {admin}"}

    def principal(self, inputs: dict[str, str]) -> str:
        return inputs["api_key"]

    def _url(self, inputs: dict[str, str]) -> str:
        base, _ = self._conf()
        project = inputs.get("openai_project") or os.environ.get("LLMSIEM_OPENAI_PROJECT_ID", "")
        if not project:
            raise NotConfiguredError("set LLMSIEM_OPENAI_PROJECT_ID")
        return f"{base}/v1/organization/projects/{project}/api_keys/{self.principal(inputs)}"

    def _exists(self, inputs: dict[str, str]) -> bool:
        _, headers = self._conf()
        response = requests.get(self._url(inputs), headers=headers, timeout=TIMEOUT)
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    def plan(self, inputs: dict[str, str]) -> Plan:
        key = self.principal(inputs)
        return Plan(
            self.name, key, {"exists": self._exists(inputs)}, {"exists": False}, self.impact
        )

    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        _, headers = self._conf()
        response = requests.delete(self._url(inputs), headers=headers, timeout=TIMEOUT)
        if response.status_code == 404:
            return Outcome({"deleted": True, "already": True})
        return Outcome(_check(response))


class LangfusePromptLabel(Action):
    """Langfuse: move a label (``production``) back to the last known-good prompt version."""

    name = "langfuse_rollback_prompt"
    impact = "high"

    def _conf(self) -> tuple[str, tuple[str, str]]:
        url, public, secret = _env(
            "LLMSIEM_LANGFUSE_URL", "LLMSIEM_LANGFUSE_PUBLIC_KEY", "LLMSIEM_LANGFUSE_SECRET_KEY"
        )
        return url.rstrip("/"), (public, secret)

    def principal(self, inputs: dict[str, str]) -> str:
        return inputs["prompt_name"]

    def _labelled(self, name: str, label: str) -> int:
        url, auth = self._conf()
        prompt = _check(
            requests.get(
                f"{url}/api/public/v2/prompts/{name}",
                params={"label": label},
                auth=auth,
                timeout=TIMEOUT,
            )
        )
        return int(prompt["version"])

    def _target(self, inputs: dict[str, str], current: int) -> int:
        known_good = inputs.get("known_good_version")
        return int(known_good) if known_good else current - 1

    def plan(self, inputs: dict[str, str]) -> Plan:
        label = inputs.get("label", "production")
        current = self._labelled(self.principal(inputs), label)
        target = self._target(inputs, current)
        return Plan(
            self.name, self.principal(inputs), {label: current}, {label: target}, self.impact
        )

    def verify(self, inputs: dict[str, str], expected: Plan) -> bool:
        """The label now points at the planned version (re-planning would step back again)."""
        label = inputs.get("label", "production")
        return bool({label: self._labelled(self.principal(inputs), label)} == expected.after)

    def _move(self, name: str, version: int, label: str) -> Any:
        url, auth = self._conf()
        return _check(
            requests.patch(
                f"{url}/api/public/v2/prompts/{name}/versions/{version}",
                json={"newLabels": [label]},
                auth=auth,
                timeout=TIMEOUT,
            )
        )

    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        label = inputs.get("label", "production")
        name = self.principal(inputs)
        current = self._labelled(name, label)
        target = self._target(inputs, current)
        return Outcome(
            self._move(name, target, label), {"name": name, "label": label, "version": current}
        )

    def undo(self, handle: dict[str, Any]) -> Any:
        return self._move(handle["name"], int(handle["version"]), handle["label"])


class KeycloakUserDisable(Action):
    """Keycloak admin REST: disable the user and end their sessions (undo: re-enable)."""

    name = "keycloak_disable_user"
    impact = "high"

    def _conf(self) -> tuple[str, dict[str, str]]:
        url, realm, token = _env(
            "LLMSIEM_KEYCLOAK_URL", "LLMSIEM_KEYCLOAK_REALM", "LLMSIEM_KEYCLOAK_TOKEN"
        )
        return f"{url.rstrip('/')}/admin/realms/{realm}/users", {"Authorization": f"Bearer {token}"}

    def principal(self, inputs: dict[str, str]) -> str:
        return inputs["user"]

    def _enabled(self, user: str) -> bool:
        base, headers = self._conf()
        return bool(
            _check(requests.get(f"{base}/{user}", headers=headers, timeout=TIMEOUT))["enabled"]
        )

    def plan(self, inputs: dict[str, str]) -> Plan:
        user = self.principal(inputs)
        return Plan(
            self.name, user, {"enabled": self._enabled(user)}, {"enabled": False}, self.impact
        )

    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        base, headers = self._conf()
        user = self.principal(inputs)
        requests.put(
            f"{base}/{user}", json={"enabled": False}, headers=headers, timeout=TIMEOUT
        ).raise_for_status()
        requests.post(f"{base}/{user}/logout", headers=headers, timeout=TIMEOUT).raise_for_status()
        return Outcome({"disabled": user, "logged_out": True}, {"user": user})

    def undo(self, handle: dict[str, Any]) -> Any:
        base, headers = self._conf()
        requests.put(
            f"{base}/{handle['user']}", json={"enabled": True}, headers=headers, timeout=TIMEOUT
        ).raise_for_status()
        return {"enabled": handle["user"]}


class WebhookNotify(Action):
    """Slack-compatible webhook message (``{"text": ...}``); nothing to undo."""

    name = "notify_webhook"
    impact = "low"
    reversible = False

    def principal(self, inputs: dict[str, str]) -> str:
        return inputs.get("channel", "webhook")

    @staticmethod
    def message(inputs: dict[str, str]) -> str:
        return inputs.get("message") or (
            f"llmsiem alert: {inputs.get('title', 'alert')} ({inputs.get('alert_id', '?')})"
        )

    def plan(self, inputs: dict[str, str]) -> Plan:
        _env("LLMSIEM_NOTIFY_WEBHOOK")
        text = self.message(inputs)
        return Plan(self.name, self.principal(inputs), None, {"text": text}, self.impact)

    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        (url,) = _env("LLMSIEM_NOTIFY_WEBHOOK")
        body = {"text": self.message(inputs), "idempotency_key": idempotency_key}
        response = requests.post(url, json=body, timeout=TIMEOUT)
        response.raise_for_status()
        return Outcome({"status": response.status_code})

    def verify(self, inputs: dict[str, str], expected: Plan) -> bool:
        return True
