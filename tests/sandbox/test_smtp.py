"""The SMTP look-alike through smtplib: AUTH, rejection of bounce addresses, STARTTLS."""

from __future__ import annotations

import smtplib
import ssl

import pytest

from tests.sandbox.helpers import make_raw


def test_auth_send_and_record(sandbox_server):
    before = sandbox_server.client.smtp_stats()["received"]
    raw = make_raw("rep@acme.test", "ana@prospect.test")
    with smtplib.SMTP(sandbox_server.smtp_host, sandbox_server.smtp_port, timeout=10) as smtp:
        smtp.login("mailroom", "sandbox")
        refused = smtp.sendmail("rep@acme.test", ["ana@prospect.test"], raw)
    assert refused == {}
    messages = sandbox_server.client.smtp_messages(since_id=before)
    assert messages[-1]["rcpt_tos"] == ["ana@prospect.test"]
    received = messages[-1]["raw_bytes"].replace(b"\r\n", b"\n").rstrip(b"\n")
    assert received == raw.replace(b"\r\n", b"\n").rstrip(b"\n")
    assert messages[-1]["username"] == "mailroom"


def test_wrong_password_is_535(sandbox_server):
    with (
        smtplib.SMTP(sandbox_server.smtp_host, sandbox_server.smtp_port, timeout=10) as smtp,
        pytest.raises(smtplib.SMTPAuthenticationError) as caught,
    ):
        smtp.login("mailroom", "wrong")
    assert caught.value.smtp_code == 535
    assert b"5.7.8 Authentication credentials invalid" in caught.value.smtp_error


def test_mail_without_auth_is_refused(sandbox_server):
    with smtplib.SMTP(sandbox_server.smtp_host, sandbox_server.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        code, _ = smtp.mail("rep@acme.test")
    assert code == 530


def test_bounce_recipient_rejected_at_rcpt(sandbox_server):
    raw = make_raw("rep@acme.test", "bounce.jamie@northwind.test")
    with smtplib.SMTP(sandbox_server.smtp_host, sandbox_server.smtp_port, timeout=10) as smtp:
        smtp.login("mailroom", "sandbox")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            smtp.sendmail("rep@acme.test", ["bounce.jamie@northwind.test"], raw)
        code, text = caught.value.recipients["bounce.jamie@northwind.test"]
        assert code == 550
        assert text == (
            b"5.1.1 <bounce.jamie@northwind.test>: Recipient address rejected: User unknown"
        )
        # One good and one bad recipient: the good one still goes.
        refused = smtp.sendmail("rep@acme.test", ["ok@acme.test", "x@invalid.test"], raw)
        assert list(refused) == ["x@invalid.test"]


def test_starttls_with_the_sandbox_ca(sandbox_server):
    context = ssl.create_default_context(cafile=sandbox_server.ca_file)
    with smtplib.SMTP(sandbox_server.smtp_host, sandbox_server.smtp_port, timeout=10) as smtp:
        smtp.starttls(context=context)
        smtp.login("mailroom", "sandbox")
        smtp.sendmail("rep@acme.test", ["tls@prospect.test"], make_raw("rep@acme.test", "x"))
    assert sandbox_server.client.smtp_messages()[-1]["rcpt_tos"] == ["tls@prospect.test"]
