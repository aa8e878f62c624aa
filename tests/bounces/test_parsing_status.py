"""Which status and reason a recipient gets when the report is untidy or terse about them."""

from __future__ import annotations

import pytest

from bench.bounce_corpus import sisimai_status
from bounces.parsing import parse_bounce


def test_each_exim_recipient_keeps_the_code_its_own_server_gave():
    raw = (
        b"From: Mail Delivery System <Mailer-Daemon@mx.acme.example>\n"
        b"To: rep@acme.example\n"
        b"Subject: Mail delivery failed: returning message to sender\n\n"
        b"This message was created automatically by mail delivery software.\n\n"
        b"A message that you sent could not be delivered to one or more of its\n"
        b"recipients. This is a permanent error. The following address(es) failed:\n\n"
        b"  ana@prospect.example\n"
        b"    SMTP error from remote mail server after RCPT TO:<ana@prospect.example>:\n"
        b"    host mx.prospect.example [192.0.2.2]: 550 5.1.1 <ana@prospect.example>: unknown\n"
        b"  bo@prospect.example\n"
        b"    SMTP error from remote mail server after RCPT TO:<bo@prospect.example>:\n"
        b"    host mx.prospect.example [192.0.2.2]: 552 5.2.2 <bo@prospect.example>: over quota\n"
        b"\n------ This is a copy of the message, including all the headers. ------\n\n"
        b"Message-ID: <x1@mailroom.example>\nFrom: rep@acme.example\n\nHello\n"
    )
    report = parse_bounce(raw)
    assert report is not None
    assert [(r.address, r.status, r.hard) for r in report.recipients] == [
        ("ana@prospect.example", "5.1.1", True),
        ("bo@prospect.example", "5.2.2", False),
    ]


def sendmail_report(*, final_recipient: str, status: str) -> bytes:
    return (
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.acme.example>\n"
        "To: rep@acme.example\n"
        "Subject: Returned mail: see transcript for details\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="S"\n'
        "\n--S\n\n"
        "   ----- The following addresses had permanent fatal errors -----\n"
        "<cy@prospect.example>\n"
        "    (reason: 550 Host unknown)\n"
        "\n--S\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.acme.example\n\n"
        f"Final-Recipient: RFC822; {final_recipient}\n"
        "Action: failed\n"
        f"Status: {status}\n"
        "\n--S--\n"
    ).encode()


def test_a_report_entry_without_a_usable_address_lends_its_status_to_the_one_named_in_the_text():
    report = parse_bounce(sendmail_report(final_recipient="@mx.prospect.example", status="5.1.2"))
    assert report is not None
    assert [(r.address, r.status, r.reason, r.hard) for r in report.recipients] == [
        ("cy@prospect.example", "5.1.2", "host_unknown", True)
    ]


def test_without_a_report_entry_the_text_alone_gives_the_pseudo_code():
    raw = sendmail_report(final_recipient="@mx.prospect.example", status="5.1.2").replace(
        b"Final-Recipient: RFC822; @mx.prospect.example\nAction: failed\nStatus: 5.1.2\n", b""
    )
    report = parse_bounce(raw)
    assert report is not None
    assert [(r.address, sisimai_status(r)) for r in report.recipients] == [
        ("cy@prospect.example", "5.0.912")
    ]


def test_a_permanent_failure_takes_the_permanent_code_of_the_servers_reply():
    raw = (
        b"From: MAILER-DAEMON@relay.acme.example (Mail Delivery System)\n"
        b"To: rep@acme.example\n"
        b"Subject: Undelivered Mail Returned to Sender\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="P"\n'
        b"\n--P\nContent-Type: text/plain\n\nThis is the mail system at host relay.acme.example.\n"
        b"\n--P\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; relay.acme.example\n\n"
        b"Final-Recipient: rfc822; di@prospect.example\n"
        b"Action: failed\n"
        b"Status: 4.5.0\n"
        b"Diagnostic-Code: smtp; 550 5.5.0 Service refused\n"
        b"\n--P--\n"
    )
    report = parse_bounce(raw)
    assert report is not None
    assert [(r.status, r.hard) for r in report.recipients] == [("5.5.0", False)]


def test_a_failure_after_temporary_replies_keeps_its_temporary_status():
    raw = (
        b"From: MAILER-DAEMON@relay.acme.example (Mail Delivery System)\n"
        b"To: rep@acme.example\n"
        b"Subject: Undelivered Mail Returned to Sender\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="P"\n'
        b"\n--P\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; relay.acme.example\n\n"
        b"Final-Recipient: rfc822; di@prospect.example\n"
        b"Action: failed\n"
        b"Status: 4.4.2\n"
        b"Diagnostic-Code: smtp; 421 4.4.2 Connection dropped\n"
        b"\n--P--\n"
    )
    report = parse_bounce(raw)
    assert report is not None
    assert [r.status for r in report.recipients] == ["4.4.2"]


def test_each_line_of_an_old_sendmail_transcript_speaks_for_its_own_recipient():
    raw = (
        b"From: Mail Delivery Subsystem <MAILER-DAEMON@mx.acme.example>\n"
        b"To: rep@acme.example\n"
        b"Subject: Returned mail: Host unknown\n\n"
        b"   ----- Transcript of session follows -----\n"
        b"421 mx.prospect.example (smtp)... Deferred: Connection reset by peer\n"
        b"554 <ana@prospect.example>... Remote protocol error: Connection reset by peer\n"
        b"550 gone.example (smtp)... 550 Host unknown\n"
        b"554 <bo@gone.example>... 550 Host unknown (Authoritative answer from name server)\n"
        b"While talking to mx.other.example:\n"
        b">>> RCPT To:<cy@other.example>\n"
        b"<<< 550 Requested mailbox not found\n"
        b"550 <cy@other.example>... User unknown\n\n"
        b"   ----- Unsent message follows -----\n"
        b"Received: by mx.acme.example; id 1\n"
        b"From: rep@acme.example\n"
        b"To: ana@prospect.example\n\nHello\n"
    )
    report = parse_bounce(raw)
    assert report is not None
    # The "Host unknown" after Ana's line is about the next domain, not about her address.
    assert [(r.address, r.reason, r.hard) for r in report.recipients] == [
        ("ana@prospect.example", "network_error", False),
        ("bo@gone.example", "host_unknown", True),
        ("cy@other.example", "user_unknown", True),
    ]


def gmail_notice(remote_reply: str) -> bytes:
    return (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "To: rep@acme.example\n"
        "Subject: Delivery Status Notification (Failure)\n\n"
        "Delivery to the following recipient failed permanently:\n\n"
        "     di@prospect.example\n\n"
        "Technical details of permanent failure:\n"
        "Google tried to deliver your message, but it was rejected by the recipient domain. "
        f"The error that the other server returned was: {remote_reply}\n"
    ).encode()


def test_a_server_that_cannot_do_tls_is_a_failed_starttls():
    report = parse_bounce(gmail_notice("530 Remote server does not support TLS (state 6)."))
    assert report is not None
    assert [(r.reason, sisimai_status(r), r.hard) for r in report.recipients] == [
        ("tls_failed", "5.0.976", False)
    ]


def test_an_ip_refused_for_the_senders_domain_is_blocked():
    report = parse_bounce(gmail_notice("554 INVALID IP FOR SENDING MAIL OF DOMAIN acme.example"))
    assert report is not None
    assert [(r.reason, r.hard) for r in report.recipients] == [("blocked", False)]


def test_exim_failing_to_pipe_to_a_local_command_is_a_mailer_error():
    raw = (
        b"From: Mail Delivery System <Mailer-Daemon@mx.prospect.example>\n"
        b"To: rep@acme.example\n"
        b"X-Failed-Recipients: sales@prospect.example\n"
        b"Subject: Mail delivery failed: returning message to sender\n\n"
        b"This message was created automatically by mail delivery software.\n\n"
        b"A message that you sent could not be delivered to one or more of its\n"
        b"recipients. This is a permanent error. The following address(es) failed:\n\n"
        b"  pipe to |/usr/local/bin/ticketing --queue sales\n"
        b"    generated by sales@prospect.example\n\n"
        b"The following text was generated during the delivery attempt:\n\n"
        b"------ pipe to |/usr/local/bin/ticketing --queue sales\n"
        b"       generated by sales@prospect.example ------\n\n"
        b"ticketing: cannot open queue: No such file or directory\n\n"
        b"------ This is a copy of the message, including all the headers. ------\n\n"
        b"Message-ID: <x2@mailroom.example>\nFrom: rep@acme.example\n\nHello\n"
    )
    report = parse_bounce(raw)
    assert report is not None
    assert [(r.address, r.reason, sisimai_status(r), r.hard) for r in report.recipients] == [
        ("sales@prospect.example", "mailer_error", "5.0.939", False)
    ]


def postfix_refusal(reply: str) -> bytes:
    return (
        "From: MAILER-DAEMON@relay.acme.example (Mail Delivery System)\n"
        "To: rep@acme.example\n"
        "Subject: Undelivered Mail Returned to Sender\n\n"
        "This is the mail system at host relay.acme.example.\n\n"
        f"<ed@prospect.example>: host mx.prospect.example[192.0.2.7] said: {reply}\n"
        "    (in reply to RCPT TO command)\n"
    ).encode()


@pytest.mark.parametrize(
    ("reply", "reason", "hard"),
    [
        (
            "550 5.1.1 <ed@prospect.example>: Recipient address rejected: User unknown in"
            " local recipient table",
            "user_unknown",
            True,
        ),
        ("550 <ed@prospect.example>: Recipient address rejected: .", "user_unknown", True),
        (
            "554 5.7.1 <ed@prospect.example>: Recipient address rejected: Delivery not"
            " authorized, message refused",
            "security_error",
            False,
        ),
        (
            "552 <ed@prospect.example>: Recipient address rejected: Mailbox full",
            "mailbox_full",
            False,
        ),
    ],
)
def test_a_refused_recipient_address_is_bad_only_when_nothing_else_is_said(reply, reason, hard):
    report = parse_bounce(postfix_refusal(reply))
    assert report is not None
    assert [(r.reason, r.hard) for r in report.recipients] == [(reason, hard)]


def test_a_specific_status_is_not_overruled_by_the_transcript_of_another_attempt():
    raw = (
        b"From: Mail Delivery Subsystem <MAILER-DAEMON@mx.acme.example>\n"
        b"To: rep@acme.example\n"
        b"Subject: Returned mail: see transcript for details\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="T"\n'
        b"\n--T\nContent-Type: text/plain\n\n"
        b"   ----- The following addresses had permanent fatal errors -----\n"
        b"<fay@prospect.example>\n"
        b"    (reason: 551 not our user)\n\n"
        b"   ----- Transcript of session follows -----\n"
        b"... while talking to mx2.prospect.example.:\n"
        b">>> DATA\n"
        b"<<< 550 5.1.1 <someone@prospect.example>... User unknown\n"
        b"\n--T\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; mx.acme.example\n\n"
        b"Final-Recipient: RFC822; fay@prospect.example\n"
        b"Action: failed\n"
        b"Status: 5.1.6\n"
        b"Diagnostic-Code: SMTP; 551 not our user\n"
        b"\n--T--\n"
    )
    report = parse_bounce(raw)
    assert report is not None
    # 551 with 5.1.6: the mailbox has moved away, the address is no longer good.
    assert [(r.status, r.reason, r.hard) for r in report.recipients] == [
        ("5.1.6", "mailbox_moved", True)
    ]
