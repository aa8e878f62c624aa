"""Amazon SES bounce notifications, as SES e-mails them and as SNS wraps them."""

from __future__ import annotations

import json

from bounces.parsing import parse_bounce


def ses_notification(*, notification_type: str = "Bounce", bounce_type: str = "Permanent") -> dict:
    return {
        "notificationType": notification_type,
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": "Cy@Prospect.example",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 <cy@prospect.example>: no such user",
                }
            ],
            "reportingMTA": "dns; b1-2.smtp-out.eu-west-1.amazonses.com",
        },
        "mail": {"source": "rep@acme.example", "destination": ["cy@prospect.example"]},
    }


def mail(body: str, *, sender: str) -> bytes:
    return (
        f"From: {sender}\n"
        "To: rep@acme.example\n"
        "Subject: AWS Notification Message\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        "\n"
        f"{body}\n"
    ).encode()


def sns_envelope(message: dict) -> str:
    """SNS e-mail delivery: the SES document is the envelope's "Message", a JSON string."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "0d7c-11",
            "TopicArn": "arn:aws:sns:eu-west-1:000000000000:ses-bounces",
            "Message": json.dumps(message),
            "Timestamp": "2024-03-01T10:00:00.000Z",
        },
        indent=2,
    )


def test_reads_the_notification_ses_sends_itself():
    raw = mail(json.dumps(ses_notification()), sender="MAILER-DAEMON@amazonses.com")
    report = parse_bounce(raw)
    assert report is not None
    assert [(r.address, r.status, r.hard) for r in report.recipients] == [
        ("cy@prospect.example", "5.1.1", True)
    ]


def test_reads_the_notification_wrapped_in_an_sns_envelope():
    raw = mail(sns_envelope(ses_notification()), sender="AWS Notifications <no-reply@sns.example>")
    report = parse_bounce(raw)
    assert report is not None
    assert [(r.address, r.status, r.hard) for r in report.recipients] == [
        ("cy@prospect.example", "5.1.1", True)
    ]
    assert report.is_delayed is False


def test_a_transient_bounce_in_an_envelope_is_a_delay():
    raw = mail(
        sns_envelope(ses_notification(bounce_type="Transient")),
        sender="AWS Notifications <no-reply@sns.example>",
    )
    report = parse_bounce(raw)
    assert report is not None
    assert report.is_delayed is True
    assert report.recipients[0].hard is False


def test_a_delivery_notification_in_an_envelope_is_not_a_bounce():
    raw = mail(
        sns_envelope(ses_notification(notification_type="Delivery")),
        sender="AWS Notifications <no-reply@sns.example>",
    )
    assert parse_bounce(raw) is None
