"""Email settings: the IMAP inbox of an SMTP channel. "Sign in and save" logs in and EXAMINEs
the folder before anything is saved, with the same rules as SMTP: the server's own words when
it refuses, nothing quoted from a port that is not IMAP, public addresses only unless allowed,
and a saved password only ever sent to the server it was saved for."""

from __future__ import annotations

import smtplib

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from bounces.models import Bounce
from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail
from tests.bounces.test_imap_polling import sent_email
from tests.channels_app.test_saved_password_stays import Listener

Kind = DeliveryChannel.Kind
MAILBOX = "sales@acme.test"
SECRET = "imap-sandbox-secret"


@pytest.fixture
def team_smtp(org_admin, sandbox):
    sandbox.client.imap_add_user(MAILBOX, SECRET)
    return DeliveryChannel.objects.create(
        organization=org_admin.organization,
        kind=Kind.CUSTOM_SMTP,
        is_team_default=True,
        host=sandbox.smtp_host,
        port=sandbox.smtp_port,
        security="none",
        username=MAILBOX,
        password=SECRET,
    )


def _form(channel, sandbox, **changes) -> dict:
    data = {
        "imap_host": sandbox.host,
        "imap_port": str(sandbox.imap_port),
        "imap_security": "starttls",
        "imap_username": "",
        "imap_password": SECRET,
        "imap_folder": "INBOX",
    }
    data.update(changes)
    return {f"imap{channel.pk}-{name}": value for name, value in data.items()}


def _save(client, channel, sandbox, **changes):
    return client.post(
        reverse("channel_imap_save", args=[channel.pk]), _form(channel, sandbox, **changes)
    )


def test_an_admin_turns_on_imap_for_the_team_smtp_and_a_bounce_comes_back_through_it(
    client, org_admin, team_smtp, sandbox, rep, django_capture_on_commit_callbacks
):
    client.force_login(org_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = _save(client, team_smtp, sandbox)

    assert response.status_code == 302
    team_smtp.refresh_from_db()
    assert team_smtp.has_imap and team_smtp.imap_username == MAILBOX  # the SMTP login
    assert team_smtp.imap_security == "starttls" and team_smtp.imap_folder == "INBOX"
    assert team_smtp.last_polled_at is not None  # checked at once after the save
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT imap_password FROM channels_app_deliverychannel WHERE id = %s", [team_smtp.pk]
        )
        assert SECRET not in cursor.fetchone()[0]  # encrypted at rest
    page = client.get(reverse("email_settings")).content.decode()
    assert "Bounce tracking through the mailbox (IMAP)" in page
    assert f"{MAILBOX} on {sandbox.host}:{sandbox.imap_port}, INBOX" in page
    assert "polling</span> every few minutes" in page

    # The rep's mail goes out through the team SMTP; the remote server's bounce comes back to
    # the account's IMAP inbox (the sandbox relays it), and the next check records it.
    email = sent_email(team_smtp, rep, to="bounce.dana@northwind.test")
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port) as relay:
        relay.login(MAILBOX, SECRET)
        relay.sendmail(
            rep.email,
            [email.to_address],
            f"From: {rep.email}\r\nTo: {email.to_address}\r\nSubject: Hi\r\n"
            f"Message-ID: {email.message_id}\r\n\r\nHello\r\n".encode(),
        )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("bounces_channel_poll", args=[team_smtp.pk]))

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.BOUNCED
    assert Bounce.objects.get().status_code == "5.1.1"
    checks = client.get(reverse("bounces") + "?tab=mailboxes").content.decode()
    assert f"IMAP {sandbox.host}" in checks and "team SMTP" in checks


def test_a_wrong_password_shows_the_servers_words_and_saves_nothing(
    client, org_admin, team_smtp, sandbox
):
    client.force_login(org_admin)

    response = _save(client, team_smtp, sandbox, imap_password="wrong")

    assert response.status_code == 400
    assert "refused the IMAP login: [AUTHENTICATIONFAILED] Authentication failed." in (
        response.content.decode()
    )
    team_smtp.refresh_from_db()
    assert not team_smtp.has_imap and team_smtp.imap_password == ""


def test_a_missing_folder_is_said_in_the_servers_words(client, org_admin, team_smtp, sandbox):
    client.force_login(org_admin)

    response = _save(client, team_smtp, sandbox, imap_folder="Bounces")

    assert response.status_code == 400
    assert "could not open the folder &#x27;Bounces&#x27;: [NONEXISTENT]" in (
        response.content.decode()
    )


def test_a_private_address_is_refused_before_anything_is_sent(
    client, org_admin, team_smtp, sandbox
):
    client.force_login(org_admin)

    with override_settings(MAILROOM_ALLOWED_PRIVATE_NETWORKS=[]):
        response = _save(client, team_smtp, sandbox)

    assert response.status_code == 400
    assert "Mailroom only connects to servers on the public internet" in (response.content.decode())
    assert sandbox.client.imap_mailbox(MAILBOX)["logins"] == 0


def test_a_port_that_is_not_imap_is_not_quoted_back(client, org_admin, team_smtp, sandbox):
    banner = Listener(greeting=b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    banner.start()
    client.force_login(org_admin)
    try:
        response = _save(client, team_smtp, sandbox, imap_port=str(banner.port))
    finally:
        banner.stop()

    page = response.content.decode()
    assert response.status_code == 400
    assert "is this the IMAP port?" in page and "OpenSSH" not in page


def test_the_saved_password_goes_only_to_the_server_it_was_saved_for(
    client, org_admin, team_smtp, sandbox
):
    client.force_login(org_admin)
    _save(client, team_smtp, sandbox)
    listener = Listener(greeting=b"* OK [CAPABILITY IMAP4rev1] listener ready\r\n")
    listener.start()
    try:
        moved = _save(client, team_smtp, sandbox, imap_port=str(listener.port), imap_password="")
    finally:
        listener.stop()

    assert moved.status_code == 400
    assert "type the password again" in moved.content.decode()
    assert listener.connections == 0 and SECRET.encode() not in listener.received

    # Same server, password left empty: the saved one is kept and used.
    kept = _save(client, team_smtp, sandbox, imap_password="", imap_folder="inbox")
    assert kept.status_code == 302
    team_smtp.refresh_from_db()
    assert team_smtp.imap_password == SECRET and team_smtp.imap_folder == "inbox"


def test_a_rep_cannot_change_the_team_smtps_inbox(client, rep, team_smtp, sandbox):
    client.force_login(rep)

    response = _save(client, team_smtp, sandbox)

    assert response.status_code == 404
    team_smtp.refresh_from_db()
    assert not team_smtp.has_imap


def test_stop_reading_the_inbox_wipes_its_password(client, org_admin, team_smtp, sandbox):
    client.force_login(org_admin)
    _save(client, team_smtp, sandbox)

    client.post(reverse("channel_imap_off", args=[team_smtp.pk]))

    team_smtp.refresh_from_db()
    assert not team_smtp.has_imap and team_smtp.imap_password == ""
    assert team_smtp.pk not in {
        c.pk for c in DeliveryChannel.objects.filter(DeliveryChannel.polled_q())
    }
