"""Messages that look like bounces and are not, and bounces whose extra parts must not mislead:
built by hand from each kind's structure (a person's reply, a newsletter, a challenge/response
system, an antivirus footer, a DSN inside multipart/mixed)."""

from __future__ import annotations

import pytest

from bounces.parsing import parse_bounce
from tests.bounces.test_parsing import dsn

REP = "rep@acme.example"


def message(*, sender: str, subject: str, body: str, content_type: str = "text/plain") -> bytes:
    return (
        f"From: {sender}\nTo: {REP}\nSubject: {subject}\nMIME-Version: 1.0\n"
        f"Content-Type: {content_type}\n\n{body}"
    ).encode()


def test_a_person_replying_with_a_quoted_ndr_is_not_a_bounce():
    body = (
        "Hi, my colleague's address changed, this is what I got:\n\n"
        "> Delivery has failed to these recipients or groups:\n"
        "> old.name@prospect.example\n"
        "> 550 5.1.1 User unknown\n\n"
        "Use new.name@prospect.example instead. Cheers, Dana\n"
    )
    raw = message(sender="Dana <dana@prospect.example>", subject="Re: Quick question", body=body)
    assert parse_bounce(raw) is None


def test_a_newsletter_about_bounces_is_not_a_bounce():
    body = (
        "Deliverability weekly\n\n"
        "4 bounced this week. Typical replies look like:\n"
        "  bob@example.org: 550 5.1.1 The email account that you tried to reach does not exist\n"
        "  eve@example.org: 552 5.2.2 Mailbox full\n\n"
        "Read how to keep your list clean on our blog. Unsubscribe: https://news.example/u\n"
    )
    raw = message(
        sender="Deliverability Weekly <news@deliverability.example>",
        subject="Why emails bounce, and what 550 5.1.1 means",
        body=body,
    )
    assert parse_bounce(raw) is None


@pytest.mark.parametrize(
    "entry",
    [
        "Action: delivered\nStatus: 2.0.0\n",
        # Held until the sender asks to be approved: the address works and the message waits.
        "Action: failed\nStatus: 5.7.1\nDiagnostic-Code: X-Boxbe; sender not pre-approved\n",
    ],
)
def test_a_challenge_response_request_built_as_a_report_is_not_a_bounce(entry):
    raw = message(
        sender="Dana via Boxbe <notifications@boxbe.example>",
        subject="Request to join Dana's Guest List",
        content_type='multipart/report; report-type=delivery-status; boundary="b"',
        body=(
            "--b\nContent-Type: text/plain\n\n"
            "Your message to dana@prospect.example was waitlisted: Sender not pre-approved.\n"
            "Click the link below to be added to Dana's Guest List.\n"
            "--b\nContent-Type: message/delivery-status\n\n"
            "Reporting-MTA: dns; boxbe.example\n\n"
            f"Final-Recipient: rfc822; dana@prospect.example\n{entry}"
            "--b--\n"
        ),
    )
    assert parse_bounce(raw) is None


def test_a_refusal_that_links_to_a_blocklist_is_still_a_bounce():
    # Links and the word "verified" alone do not make a challenge.
    raw = message(
        sender="MAILER-DAEMON@mx.prospect.example",
        subject="Undelivered Mail Returned to Sender",
        body=(
            "This is the mail system at host mx.prospect.example.\n\n"
            "<dana@prospect.example>: host mx2.prospect.example[192.0.2.7] said: 550 5.7.1\n"
            "    Service unavailable; client host blocked, see https://rbl.example/lookup\n"
            "    (in reply to RCPT TO command)\n"
        ),
    )
    assert parse_bounce(raw).recipients[0].reason == "blocked"


GMAIL_NOTICE = (
    "Delivery to the following recipient failed permanently:\n\n"
    "     kim@prospect.example\n\n"
    "Technical details of permanent failure:\n"
    "550 5.1.1 The email account that you tried to reach does not exist.\n"
)


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Forwarded message ---------",
        "---------- 전달된 메시지 ---------",
        "---------- 転送されたメッセージ ---------",
        "________________________________",
    ],
)
def test_a_person_forwarding_a_notice_inline_is_not_a_bounce(marker):
    body = (
        f"FYI, this came back when I wrote to Kim.\n\n{marker}\n"
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "Subject: Delivery Status Notification (Failure)\n\n" + GMAIL_NOTICE
    )
    raw = message(sender="Dana <dana@prospect.example>", subject="bounce", body=body)
    assert parse_bounce(raw) is None


def test_a_notice_with_the_original_message_beneath_is_still_a_bounce():
    body = (
        GMAIL_NOTICE + "\n----- Original message -----\n\n"
        f"From: {REP}\nTo: kim@prospect.example\nSubject: Quick question\n\nHello\n"
    )
    raw = message(sender="Notices <notices@prospect.example>", subject="Undeliverable", body=body)
    assert parse_bounce(raw).recipients[0].address == "kim@prospect.example"


def test_a_virus_warning_to_the_sender_is_not_a_bounce():
    raw = message(
        sender="Antivirus Gateway <av-gateway@prospect.example>",
        subject="Virus warning: a message you sent was quarantined",
        body="The attachment of your message to dana@prospect.example contained a virus "
        "(Eicar-Test-Signature) and was removed. The message itself was delivered.\n",
    )
    assert parse_bounce(raw) is None


def dsn_in(container: str, *, recipient_field: str, footer: str = "") -> bytes:
    return message(
        sender="Microsoft Outlook <postmaster@prospect.example>",
        subject="Undeliverable: Quick question",
        content_type=f'{container}; boundary="b"',
        body=(
            "--b\nContent-Type: text/plain\n\n"
            "Delivery has failed to these recipients or groups:\n\n"
            "dana@prospect.example\n"
            "The email address you entered couldn't be found.\n"
            f"{footer}"
            "--b\nContent-Type: message/delivery-status\n\n"
            "Reporting-MTA: dns;mail.prospect.example\n\n"
            f"Final-Recipient: {recipient_field}\n"
            "Action: failed\nStatus: 5.1.1\n"
            "--b--\n"
        ),
    )


def test_an_antivirus_footer_after_an_exchange_ndr_does_not_make_it_a_virus():
    footer = (
        "\n__________ Information from ESET NOD32 Antivirus, version of virus signature "
        "database 4242 (20250303) __________\n\nThe message was checked by ESET NOD32 "
        "Antivirus.\n"
    )
    report = parse_bounce(
        dsn_in(
            "multipart/report; report-type=delivery-status",
            recipient_field="rfc822;dana@prospect.example",
            footer=footer,
        )
    )
    assert report is not None
    [failed] = report.recipients
    assert (failed.status, failed.reason, failed.hard) == ("5.1.1", "user_unknown", True)


@pytest.mark.parametrize(
    "footer",
    [
        "No virus found in this message.\nChecked by AVG - www.avg.example\n",
        "This email has been scanned for spam and viruses by Proofpoint Essentials.\n",
        "This message was scanned by Spam Filter and is believed to be clean.\n",
        "Click here to report this email as spam.\n",
    ],
)
def test_a_scanning_footer_under_a_notice_stating_no_reason_is_not_its_reason(footer):
    raw = message(
        sender="postmaster@prospect.example",
        subject="Undeliverable: Quick question",
        body=(
            "Delivery has failed to these recipients or groups:\n\ndana@prospect.example\n\n"
            + footer
        ),
    )
    [failed] = parse_bounce(raw).recipients
    assert failed.reason == "unknown"


def test_a_delivery_status_inside_multipart_mixed_is_a_dsn():
    report = parse_bounce(dsn_in("multipart/mixed", recipient_field="rfc822;dana@prospect.example"))
    assert report is not None
    [failed] = report.recipients
    assert (failed.address, failed.status, failed.hard) == ("dana@prospect.example", "5.1.1", True)


def test_a_malformed_final_recipient_does_not_drop_the_report():
    report = parse_bounce(
        dsn_in(
            "multipart/report; report-type=delivery-status",
            recipient_field="rfc822;dana@#prospect.example",
        )
    )
    assert report is not None
    [failed] = report.recipients
    assert (failed.address, failed.status) == ("dana@prospect.example", "5.1.1")


def test_the_returned_copys_sender_is_never_the_failed_recipient():
    raw = message(
        sender="MAILER-DAEMON@mx.prospect.example",
        subject="Undelivered Mail Returned to Sender",
        body=(
            "I'm sorry to have to inform you that your message could not be delivered.\n\n"
            "<bounces+4242@mailer.acme.example>: the return path of the message\n"
            "<dana@prospect.example>: host mx.prospect.example said: 550 5.1.1 User unknown "
            "(in reply to RCPT TO command)\n"
        ),
    ).replace(b"To: rep@acme.example", b"To: bounces+4242@mailer.acme.example")
    report = parse_bounce(raw)
    assert report is not None
    assert [failed.address for failed in report.recipients] == ["dana@prospect.example"]


def test_a_bounce_returning_a_campaign_email_with_its_unsubscribe_link_is_a_bounce():
    raw = message(
        sender="Mail Administrator <mailadmin@prospect.example>",
        subject="Returned mail: User unknown",
        body=(
            "Your message could not be delivered to the following recipient:\n\n"
            "<dana@prospect.example>: 550 5.1.1 User unknown (in reply to RCPT TO command)\n\n"
            "--- Below this line is a copy of the message.\n\n"
            "Message-ID: <mr.77@acme.example>\nFrom: rep@acme.example\nTo: dana@prospect.example\n"
            "Subject: Quick question\n\nHello Dana.\nUnsubscribe: https://acme.example/u/x\n"
        ),
    )
    report = parse_bounce(raw)
    assert report is not None
    assert [failed.address for failed in report.recipients] == ["dana@prospect.example"]


def test_a_5_1_1_whose_server_says_the_message_was_too_large_is_not_a_bad_address():
    report = parse_bounce(
        dsn(status="5.1.1", diagnostic="smtp; 552 5.1.1 Message size exceeds fixed maximum size")
    )
    assert report is not None
    [failed] = report.recipients
    assert (failed.reason, failed.hard) == ("message_too_large", False)


def test_a_relays_user_unknown_is_not_believed_when_the_remote_server_says_spf():
    report = parse_bounce(
        dsn(
            status="5.1.1",
            diagnostic="smtp; 550 5.1.1 User unknown; remote server said: "
            "550 5.7.1 SPF check failed for 192.0.2.1",
        )
    )
    assert report is not None
    [failed] = report.recipients
    assert (failed.reason, failed.hard) == ("authentication_failed", False)


def test_a_plain_text_delivery_receipt_is_not_a_bounce():
    """Exchange's "Delivered:" receipt: it names the recipient, and nothing failed."""
    raw = message(
        sender="postmaster@corp.example",
        subject="Delivered: Quick question",
        body=(
            "Your message has been delivered to the following recipients:\n\n"
            "ann@corp.example\n\nSubject: Quick question\n"
        ),
    )
    assert parse_bounce(raw) is None


def test_a_relays_success_report_in_plain_text_is_not_a_bounce():
    raw = message(
        sender="Mail Delivery System <MAILER-DAEMON@relay.example>",
        subject="Successful Mail Delivery Report",
        body=(
            "This is the mail system at host relay.example.\n\n"
            "Your message was successfully delivered to the destination(s)\n"
            "listed below. If the message was delivered to mailbox you will\n"
            "receive no further notifications. Otherwise you may still receive\n"
            "notifications of mail delivery errors from other systems.\n\n"
            "<ann@corp.example>: delivery via mx.corp.example[192.0.2.1]:25: 250 2.0.0 Ok\n"
        ),
    )
    assert parse_bounce(raw) is None


def test_a_notice_that_delivered_one_and_failed_another_is_a_bounce_of_the_other():
    raw = message(
        sender="postmaster@corp.example",
        subject="Undeliverable: Quick question",
        body=(
            "Your message has been delivered to the following recipients:\n\n"
            "  ann@corp.example\n\n"
            "Delivery to the following recipients failed:\n\n"
            "  bo@corp.example\n"
        ),
    )
    report = parse_bounce(raw)
    assert report is not None
    assert [r.address for r in report.recipients] == ["bo@corp.example"]


def test_a_gateways_virus_alert_that_blocked_the_message_is_not_a_bounce():
    """The issue's rule: virus notifications are not bounces, even when they say the message
    was blocked: nothing is wrong with the address."""
    raw = message(
        sender="Antivirus Gateway <postmaster@av.example>",
        subject="VIRUS ALERT: Quick question",
        body=(
            "Our content checker found a virus (Eicar-Test-Signature) in an email you sent.\n"
            "Your message to ann@corp.example has been blocked and was not delivered.\n"
        ),
    )
    assert parse_bounce(raw) is None


def test_a_delivery_failure_titled_for_a_virus_is_still_a_bounce():
    raw = message(
        sender="Mail Delivery System <MAILER-DAEMON@mx.corp.example>",
        subject="Undeliverable mail: virus detected",
        body="<ann@corp.example>: 554 5.7.1 Message rejected: virus found (Eicar-Test-Signature)\n",
    )
    report = parse_bounce(raw)
    assert report is not None and report.recipients[0].reason == "virus"


def test_a_refusal_saying_the_sender_is_not_verified_is_still_a_bounce():
    raw = message(
        sender="Mail Delivery System <MAILER-DAEMON@relay.prospect.example>",
        subject="Mail delivery failed: returning message to sender",
        body=(
            "This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            "  dana@prospect.example\n"
            "    SMTP error from remote mail server after end of data:\n"
            "    554 Message rejected: Email address is not verified. Confirm it at\n"
            "    https://console.relay.example/verify\n"
        ),
    )
    assert parse_bounce(raw).recipients[0].address == "dana@prospect.example"
