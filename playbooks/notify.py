"""Notify the SOC channel (Slack-compatible webhook) about every high or critical alert."""

from llmsiem.respond.playbook import Playbook, Trigger

PLAYBOOK = Playbook(
    id="notify",
    title="Notify SOC channel",
    description="Post the alert title, user and key to the configured webhook.",
    trigger=Trigger(min_level="high"),
    inputs={"title": "llmsiem.alert.title", "alert_id": "event.id"},
    constants={"channel": "soc"},
    steps=("notify_webhook",),
)
