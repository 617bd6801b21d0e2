"""Notifications to a webhook whose URL is a secret (MLCI_WEBHOOK_URL, bound from
`webhookCredentialsId`): it is never logged, and errors name the variable instead.

Two bodies: `generic` is the monitor's JSON document; `slack` is a Slack-compatible message
(`text` plus `blocks`), accepted by Slack incoming webhooks and by Mattermost and Rocket.Chat.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

URL_ENV = "MLCI_WEBHOOK_URL"
TIMEOUT_SECONDS = 10


def url() -> str | None:
    return os.environ.get(URL_ENV) or None


def _text(value: object) -> str:
    """A value in Slack mrkdwn: `<`, `>` and `&` are control characters there (`<!channel>`
    pings everyone, `<url|text>` is a link), so a column named like one arrives as text."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(doc: dict[str, Any]) -> dict[str, Any]:
    version = doc.get("modelVersion") or "unknown"
    lines = [f"*{_text(doc['model'])}* (version {_text(version)}): {_text(doc['summary'])}"]
    lines += [f"• {_text(b['check'])}: {_text(b['detail'])}" for b in doc["breaches"]]
    lines.append(f"Retrain: {_text(doc['retrain']['decision'])}")
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def send(doc: dict[str, Any], fmt: str) -> str | None:
    """Post the notification; return None when delivered, else why not (never raises)."""
    target = url()
    if target is None:
        return f"{URL_ENV} not set"
    body = json.dumps(slack_body(doc) if fmt == "slack" else doc).encode()
    request = urllib.request.Request(  # noqa: S310 - the operator's webhook
        target, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310
            resp.read()
    except urllib.error.HTTPError as err:
        return f"webhook ({URL_ENV}) answered HTTP {err.code}"
    except (OSError, ValueError) as err:
        # The URL is a secret: the reason only, never str(err), which may quote it.
        reason = getattr(err, "reason", None)
        return f"webhook ({URL_ENV}) unreachable ({type(reason or err).__name__})"
    return None
