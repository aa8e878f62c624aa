"""Email service providers (ESPs) behind an SMTP channel, for their bounce webhooks.

An ESP such as SendGrid accepts every recipient over SMTP and reports what happened later, by
POSTing events to a webhook. Two facts per ESP live here: the header its SMTP relay turns into
event metadata (so each event names the Mailroom email it is about, by the same signed token as
X-Mailroom-Email-Id), and how its webhook authenticates (HTTP basic auth, or a signing key the
ESP gives). The webhook views themselves are django-anymail's, in bounces.webhooks."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

# The metadata key every ESP carries back in its events.
METADATA_KEY = "mailroom_email"
# The user name in the webhook URL's basic auth (the password is the channel's own secret).
WEBHOOK_USERNAME = "mailroom"


def _json_header(name: str, wrap: Callable[[dict], dict]) -> Callable[[str], bytes]:
    def build(token: str) -> bytes:
        value = json.dumps(wrap({METADATA_KEY: token}), separators=(",", ":"))
        return f"{name}: {value}\r\n".encode("ascii")

    return build


def _plain_header(name: str) -> Callable[[str], bytes]:
    def build(token: str) -> bytes:
        return f"{name}: {token}\r\n".encode("ascii")

    return build


@dataclass(frozen=True)
class Esp:
    code: str
    # The header line (CRLF-terminated) that makes the ESP report `token` as event metadata.
    metadata_header: Callable[[str], bytes]
    # "basic": Mailroom makes a user name and password that go into the webhook URL the admin
    # pastes into the ESP. "signing_key": the ESP signs each POST with a key it shows the admin,
    # who pastes it into Mailroom.
    auth: str = "basic"
    docs: str = ""


ESPS: dict[str, Esp] = {
    esp.code: esp
    for esp in (
        Esp(
            "sendgrid",
            # SendGrid's SMTP API header: unique_args come back as top-level event fields.
            _json_header("X-SMTPAPI", lambda meta: {"unique_args": meta}),
            docs="Settings → Mail Settings → Event Webhook; select Bounced, Dropped, Spam "
            "Reports and Unsubscribes.",
        ),
        Esp(
            "sparkpost",
            # SparkPost's SMTP API header: metadata comes back as rcpt_meta.
            _json_header("X-MSYS-API", lambda meta: {"metadata": meta}),
            docs="Configuration → Webhooks → New webhook; events Bounce, Out of Band, "
            "Policy Rejection, Spam Complaint, List Unsubscribe, Link Unsubscribe.",
        ),
        Esp(
            "postmark",
            _plain_header(f"X-PM-Metadata-{METADATA_KEY}"),
            docs="Servers → your server → Webhooks → Add webhook; Bounce, Spam Complaint and "
            "Subscription Change.",
        ),
        Esp(
            "mailgun",
            _json_header("X-Mailgun-Variables", lambda meta: meta),
            auth="signing_key",
            docs="Sending → Webhooks: add the URL for Permanent Failure, Temporary Failure, "
            "Spam Complaints and Unsubscribes; copy the HTTP webhook signing key here.",
        ),
        Esp(
            "mailjet",
            _json_header("X-MJ-EventPayload", lambda meta: meta),
            docs="Account settings → Event notifications (webhooks): the URL for bounce, "
            "blocked, spam and unsub events.",
        ),
        Esp(
            "brevo",
            _json_header("X-Mailin-custom", lambda meta: meta),
            docs="Transactional → Settings → Webhook: hard bounce, soft bounce, blocked, "
            "complaint, unsubscribed.",
        ),
    )
}


def esp_metadata_header(*, esp: str, token: str) -> bytes:
    """The header line for an email sent through `esp` ('' for no ESP or an unknown one)."""
    known = ESPS.get(esp)
    return known.metadata_header(token) if known else b""
