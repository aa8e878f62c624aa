"""Bounces whose MIME structure is damaged in ways real gateways damage it.

The report is still there; the parser must find it, and must not find one where none is.
"""

from __future__ import annotations

from bounces.parsing import parse_bounce


def postfix_report(*, declared_boundary: str, used_boundary: str) -> bytes:
    return (
        "From: MAILER-DAEMON@relay.acme.example (Mail Delivery System)\n"
        "To: rep@acme.example\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status;\n"
        f'\tboundary="{declared_boundary}"\n'
        "\n"
        "This is a MIME-encapsulated message.\n"
        f"\n--{used_boundary}\n"
        "Content-Description: Notification\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "This is the mail system at host relay.acme.example.\n"
        "\n"
        "<bo@prospect.example>: host mx.prospect.example[203.0.113.9] said: 550 5.1.1\n"
        "    <bo@prospect.example>: Recipient address rejected: User unknown\n"
        f"\n--{used_boundary}\n"
        "Content-Description: Delivery report\n"
        "Content-Type: message/delivery-status\n"
        "\n"
        "Reporting-MTA: dns; relay.acme.example\n"
        "\n"
        "Final-Recipient: rfc822; bo@prospect.example\n"
        "Action: failed\n"
        "Status: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <bo@prospect.example>: Recipient address\n"
        "    rejected: User unknown\n"
        f"\n--{used_boundary}\n"
        "Content-Description: Undelivered Message\n"
        "Content-Type: message/rfc822\n"
        "\n"
        "Message-ID: <q2.77@mailroom.example>\n"
        "From: Rep <rep@acme.example>\n"
        "To: bo@prospect.example\n"
        "Subject: Following up\n"
        "\n"
        "Hello Bo, a note for cc@colleague.example too.\n"
        f"\n--{used_boundary}--\n"
    ).encode()


def test_a_report_whose_body_uses_another_boundary_than_declared_is_read():
    report = parse_bounce(
        postfix_report(declared_boundary="1A2B.1700000000/relay", used_boundary="1A2B.17/relay")
    )
    assert report is not None
    assert [r.address for r in report.recipients] == ["bo@prospect.example"]
    assert report.recipients[0].status == "5.1.1"
    assert report.recipients[0].hard is True
    # Read as a structure, the returned copy still identifies the message that bounced.
    assert report.original_message_id == "<q2.77@mailroom.example>"


def test_the_declared_boundary_is_used_when_the_body_has_it():
    report = parse_bounce(postfix_report(declared_boundary="ZZ-9", used_boundary="ZZ-9"))
    assert report is not None
    assert report.original_message_id == "<q2.77@mailroom.example>"


def test_a_dash_line_in_a_body_without_the_boundary_is_not_a_delimiter():
    raw = (
        b"From: Ana <ana@prospect.example>\n"
        b"To: rep@acme.example\n"
        b"Subject: Re: your offer\n"
        b'Content-Type: multipart/alternative; boundary="lost"\n'
        b"\n"
        b"-----Original Message-----\n"
        b"Thanks, the message was not delivered to my colleague, I'll forward it.\n"
        b"-----Original Message-----\n"
    )
    assert parse_bounce(raw) is None


def gateway_notice(*, indent: str) -> bytes:
    """A mobile carrier's notice: its multipart/alternative's boundary line flush left."""
    return (
        "From: post_master@sms.carrier.example\n"
        "To: rep@acme.example\n"
        "Subject: Re: Following up\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="==outer"\n'
        "\n"
        "--==outer\n"
        "Content-Type: multipart/alternative;\n"
        f'{indent}boundary="==inner"\n'
        "\n"
        "--==inner\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "Content-Transfer-Encoding: 7bit\n"
        "\n"
        "Error: Invalid user address\n"
        "\n"
        "Error message below:\n"
        "550 - Requested action not taken: no such user here\n"
        "\n"
        "Message details:\n"
        "  Subject: Following up\n"
        "  MAIL FROM: rep@acme.example\n"
        "  RCPT TO: 5550100@sms.carrier.example\n"
        "  From: rep@acme.example\n"
        "\n"
        "--==inner--\n"
        "\n"
        "--==outer--\n"
    ).encode()


def test_a_parameter_line_that_lost_its_indentation_still_belongs_to_the_header():
    flush_left = parse_bounce(gateway_notice(indent=""))
    folded = parse_bounce(gateway_notice(indent="\t"))
    assert flush_left is not None and folded is not None
    assert [r.address for r in flush_left.recipients] == ["5550100@sms.carrier.example"]
    assert flush_left.recipients == folded.recipients
    assert flush_left.recipients[0].hard is True
