"""parse_bounce on hand-written messages: the formats, the contract, the edge cases."""

from __future__ import annotations

import pytest

from bench.bounce_corpus import sisimai_status
from bounces.parsing import BounceReport, FailedRecipient, normalize_message_id, parse_bounce

RETURNED_HEADERS = (
    "Message-ID: <abc.123@mailroom.example>\n"
    "X-Mailroom-Email-Id: 4242\n"
    "From: Rep <rep@acme.example>\n"
    "To: ana@prospect.example\n"
    "Subject: Quick question\n"
)


def dsn(*, action: str = "failed", status: str = "5.1.1", diagnostic: str = "") -> bytes:
    diagnostic = diagnostic or "smtp; 550 5.1.1 <ana@prospect.example>: User unknown"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>\n"
        "To: rep@acme.example\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n'
        "\n--B\nContent-Type: text/plain\n\nThis is the mail system at host mx.acme.example.\n"
        "\n--B\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.acme.example\n\n"
        "Final-Recipient: rfc822; Ana@Prospect.example\n"
        f"Action: {action}\nStatus: {status}\nDiagnostic-Code: {diagnostic}\n"
        "\n--B\nContent-Type: text/rfc822-headers\n\n"
        f"{RETURNED_HEADERS}"
        "\n--B--\n"
    ).encode()


def test_reads_an_rfc3464_report():
    report = parse_bounce(dsn())
    assert isinstance(report, BounceReport)
    assert report.recipients == [
        FailedRecipient(
            address="ana@prospect.example",
            status="5.1.1",
            diagnostic="550 5.1.1 <ana@prospect.example>: User unknown",
            hard=True,
            reason="user_unknown",
            action="failed",
        )
    ]
    assert report.reporting_mta == "mx.acme.example"
    assert report.original_message_id == "<abc.123@mailroom.example>"
    assert report.original_mailroom_id == "4242"
    assert report.original_from == "rep@acme.example"
    assert report.is_delayed is False


@pytest.mark.parametrize(
    ("status", "diagnostic", "hard"),
    [
        ("5.2.2", "smtp; 552 5.2.2 Mailbox full", False),
        ("5.7.1", "smtp; 550 5.7.1 Message rejected as spam", False),
        ("5.1.2", "smtp; 550 5.1.2 Host unknown", True),
        ("5.7.26", "smtp; 550 5.7.26 Unauthenticated email is not accepted (DMARC)", False),
    ],
)
def test_only_a_bad_address_is_hard(status, diagnostic, hard):
    report = parse_bounce(dsn(status=status, diagnostic=diagnostic))
    assert report is not None
    assert report.recipients[0].status == status
    assert report.recipients[0].hard is hard


def test_a_delay_is_soft_and_flagged():
    report = parse_bounce(dsn(action="delayed", status="4.4.7", diagnostic="smtp; 421 timed out"))
    assert report is not None
    assert report.is_delayed is True
    assert report.recipients[0].hard is False


@pytest.mark.parametrize("action", ["delivered", "relayed", "expanded"])
def test_a_success_notice_is_not_a_bounce(action):
    assert parse_bounce(dsn(action=action, status="2.0.0", diagnostic="smtp; 250 ok")) is None


def test_reads_a_qmail_bounce_with_an_inline_copy():
    raw = (
        "From: MAILER-DAEMON@mx.prospect.example\nTo: rep@acme.example\nSubject: failure notice\n"
        "\nHi. This is the qmail-send program at mx.prospect.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<ana@prospect.example>:\n"
        "Remote host said: 550 5.1.1 sorry, no mailbox here by that name (#5.1.1)\n"
        "Giving up on 192.0.2.1.\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "Return-Path: <rep@acme.example>\n"
        "Received: (qmail 1 invoked by uid 1); 1 Jan 2025 00:00:00 -0000\n"
        f"{RETURNED_HEADERS}\nHello Ana\n"
    ).encode()
    report = parse_bounce(raw)
    assert report is not None
    assert [r.address for r in report.recipients] == ["ana@prospect.example"]
    assert report.recipients[0].status == "5.1.1"
    assert report.original_message_id == "<abc.123@mailroom.example>"
    assert report.original_mailroom_id == "4242"
    assert report.reporting_mta == "mx.prospect.example"


def test_reads_an_exim_bounce_and_its_failed_recipients_header():
    raw = (
        "From: Mail Delivery System <Mailer-Daemon@mx.acme.example>\n"
        "To: rep@acme.example\nX-Failed-Recipients: ana@prospect.example\n"
        "Auto-Submitted: auto-replied\n"
        "Subject: Mail delivery failed: returning message to sender\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  ana@prospect.example\n"
        "    SMTP error from remote mail server after RCPT TO:<ana@prospect.example>:\n"
        "    host mx.prospect.example [192.0.2.2]: 550 5.1.1 User unknown\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        f"Return-path: <rep@acme.example>\nReceived: from x by y\n{RETURNED_HEADERS}\nbody\n"
    ).encode()
    report = parse_bounce(raw)
    assert report is not None
    assert [(r.address, r.status, r.hard) for r in report.recipients] == [
        ("ana@prospect.example", "5.1.1", True)
    ]


def test_gives_sisimai_pseudo_code_when_the_message_carries_no_status():
    """No code in the message: the reason's pseudo-code (userunknown 5.0.911), as the corpus."""
    raw = (
        b"From: System Administrator <postmaster@prospect.example>\nTo: rep@acme.example\n"
        b"Subject: Undeliverable: Quick question\n\n"
        b"Your message\n\n  To:      ana@prospect.example\n  Subject: Quick question\n\n"
        b"did not reach the following recipient(s):\n\n"
        b"ana@prospect.example on Thu, 29 Apr 2010 00:00:00 -0000\n"
        b"    The recipient name is not recognized\n"
    )
    report = parse_bounce(raw)
    assert report is not None
    assert report.recipients[0].address == "ana@prospect.example"
    assert sisimai_status(report.recipients[0]) == "5.0.911"
    assert report.recipients[0].reason == "user_unknown"
    assert report.recipients[0].hard is True


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"From: a@b.example\n\nHello, how are you?\n",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x\n",
        b"Content-Type: message/delivery-status\n\nFinal-Recipient: ;;;\nAction: failed\n",
        b"Subject: =?bogus-charset?Q?x?=\nContent-Type: text/plain; charset=nope\n\n\xe9\xe9\n",
    ],
)
def test_never_raises_on_broken_input(raw):
    report = parse_bounce(raw)
    assert report is None or isinstance(report, BounceReport)


def test_a_person_forwarding_a_bounce_is_not_a_bounce():
    forwarded = (
        (
            b"From: Colleague <pat@acme.example>\nTo: rep@acme.example\n"
            b"Subject: Fwd: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
            b'Content-Type: multipart/mixed; boundary="F"\n\n--F\nContent-Type: text/plain\n\n'
            b"FYI, this one bounced.\n\n--F\nContent-Type: message/rfc822\n\n"
        )
        + dsn()
        + b"\n--F--\n"
    )
    assert parse_bounce(forwarded) is None


def test_a_human_saying_undeliverable_is_not_a_bounce():
    raw = (
        b"From: Ana <ana@prospect.example>\nTo: rep@acme.example\nSubject: Re: Quick question\n"
        b"In-Reply-To: <abc.123@mailroom.example>\n\n"
        b"Your last email was undeliverable to our old address, use this one please.\n"
    )
    assert parse_bounce(raw) is None


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("<abc@host.example>", "<abc@host.example>"),
        ("  abc@host.example ", "<abc@host.example>"),
        ("<<abc@host.example>>", "<abc@host.example>"),
        ("<abc@host.example> (comment)", "<abc@host.example>"),
        ("no id here", None),
        (None, None),
    ],
)
def test_message_ids_are_normalized_to_angle_brackets(value, normalized):
    assert normalize_message_id(value) == normalized


def exim(
    failure: str, *, subject: str = "Mail delivery failed: returning message to sender"
) -> bytes:
    return (
        "From: Mail Delivery System <Mailer-Daemon@mx.acme.example>\n"
        "To: rep@acme.example\n"
        f"Subject: {subject}\n"
        "Message-Id: <E1abcDE-000123-AB@mx.acme.example>\n"
        "\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  ana@prospect.example\n"
        f"    {failure}\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        f"{RETURNED_HEADERS}\nHello\n"
    ).encode()


def test_exim_refusal_after_mail_from_takes_the_on_hold_code_of_the_reply_class():
    report = parse_bounce(
        exim(
            "host mx.prospect.example [192.0.2.1]\n    SMTP error from remote mail server"
            " after MAIL FROM:<rep@acme.example> SIZE=1024: 550 Unroutable sender address"
        )
    )
    assert report is not None
    assert [(sisimai_status(r), r.hard) for r in report.recipients] == [("5.0.901", False)]


def test_exim_user_unknown_is_the_address_only_when_refused_at_rcpt():
    at_rcpt = parse_bounce(
        exim(
            "SMTP error from remote mail server after RCPT TO:<ana@prospect.example>:\n"
            "    host mx.prospect.example [192.0.2.1]: 550 Unknown user"
        )
    )
    after_data = parse_bounce(
        exim(
            "SMTP error from remote mail server after end of data:\n"
            "    host mx.prospect.example [192.0.2.1]: 550 Unknown user"
        )
    )
    assert [(sisimai_status(r), r.hard) for r in at_rcpt.recipients] == [("5.0.911", True)]
    assert [(sisimai_status(r), r.hard) for r in after_data.recipients] == [("5.0.910", False)]


def test_exim_retry_timeout_without_a_reply_is_a_temporary_expiry():
    report = parse_bounce(exim("retry timeout exceeded"))
    assert [(r.reason, sisimai_status(r)) for r in report.recipients] == [("expired", "4.0.947")]


def test_delay_notice_quoting_no_code_takes_the_permanent_pseudo_code():
    # The class follows the quoted reply (or "temporary" wording), not the notice's Action.
    quoting_nothing = parse_bounce(
        dsn(action="delayed", status="", diagnostic="smtp; Delivery has been delayed")
    )
    quoting_421 = parse_bounce(
        dsn(action="delayed", status="", diagnostic="smtp; 421 Delivery has been delayed")
    )
    assert [sisimai_status(r) for r in quoting_nothing.recipients] == ["5.0.947"]
    assert [sisimai_status(r) for r in quoting_421.recipients] == ["4.0.947"]


def test_opensmtpd_recipient_line_is_the_diagnosis():
    raw = (
        "From: Mailer Daemon <MAILER-DAEMON@mx.acme.example>\n"
        "To: rep@acme.example\n"
        "Subject: Delivery status notification: delay\n"
        "\n"
        "    Hi!\n\n"
        "    This is the MAILER-DAEMON, please DO NOT REPLY to this email.\n\n"
        "    A message is delayed for more than 4 hours for the following\n"
        "    list of recipients:\n\n"
        "ana@prospect.example: No MX found for domain\n"
        "bob@prospect.example: Envelope expired\n\n"
        "    Please note that this is only a temporary failure report.\n\n"
        "    Below is a copy of the original message:\n\n"
        f"{RETURNED_HEADERS}\nHello\n"
    ).encode()
    report = parse_bounce(raw)
    assert [(r.address, r.reason, sisimai_status(r), r.hard) for r in report.recipients] == [
        ("ana@prospect.example", "no_mail_accepted", "5.0.932", True),
        ("bob@prospect.example", "expired", "5.0.947", False),
    ]


def test_remote_reply_quoted_in_an_expiry_summary_gives_the_status():
    report = parse_bounce(
        dsn(
            status="4.4.7",
            diagnostic="smtp; 554 4.4.7 Message expired: unable to deliver in 840 minutes."
            "<421 4.4.2 Connection timed out>",
        )
    )
    assert [(r.status, r.hard) for r in report.recipients] == [("4.4.2", False)]


def test_x2_user_unknown_names_no_stage_so_it_is_a_filter():
    raw = (
        "From: MAILER-DAEMON@prospect.example\n"
        "To: rep@acme.example\n"
        "Subject: Delivery failure\n"
        "\n"
        "Message from prospect.example.\n"
        "Unable to deliver message to the following address(es).\n\n"
        "<ana@prospect.example>:\n"
        "This user doesn't have a prospect.example account (ana@prospect.example) [0]\n\n"
        "--- Original message follows.\n\n"
        f"{RETURNED_HEADERS}\nHello\n"
    ).encode()
    report = parse_bounce(raw)
    assert [(r.reason, sisimai_status(r), r.hard) for r in report.recipients] == [
        ("filtered", "5.0.910", False)
    ]
