"""Custom / team SMTP "Authenticate and save" against the sandbox's real SMTP server, Exchange
On-Prem's login check, and who may see and change what on the email settings page."""

import socket
import threading
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from channels_app.models import DeliveryChannel
from channels_app.providers import ews_auth, smtp_auth
from channels_app.selectors import channel_for_user
from tests.factories import DeliveryChannelFactory, OrganizationFactory, UserFactory

Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status


def smtp_post(sandbox, prefix: str, **changes) -> dict:
    data = {
        "host": sandbox.smtp_host,
        "port": sandbox.smtp_port,
        "security": "none",
        "username": "mailroom",
        "password": "sandbox",
        "from_domain": "acme.test",
    }
    data.update(changes)
    return {f"{prefix}-{key}": value for key, value in data.items()}


class _FormReader(HTMLParser):
    """The fields a browser would submit from the form posting to `action`."""

    def __init__(self, action: str):
        super().__init__()
        self.action, self.inside, self.fields, self.select = action, False, {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("action") == self.action
        elif self.inside and tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""
        elif self.inside and tag == "select":
            self.select = attrs["name"]
        elif (
            self.inside
            and tag == "option"
            and self.select
            and ("selected" in attrs or self.select not in self.fields)
        ):
            self.fields[self.select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def rendered_form(client, action: str) -> dict:
    reader = _FormReader(action)
    reader.feed(client.get(reverse("email_settings")).content.decode())
    assert reader.fields, f"no form posts to {action}"
    return reader.fields


@pytest.mark.parametrize("scope", ["own", "team"])
def test_the_smtp_form_as_rendered_saves_when_only_the_password_changes(
    client, org_admin, sandbox, scope
):
    """What a browser sends: the page's own field names and pre-filled values, with the new
    password typed in (a stale password at the server is the usual reason to come here)."""
    DeliveryChannel.objects.create(
        organization=org_admin.organization,
        owner=None if scope == "team" else org_admin,
        is_team_default=scope == "team",
        kind=Kind.CUSTOM_SMTP,
        host=sandbox.smtp_host,
        port=sandbox.smtp_port,
        security="none",
        username="mailroom",
        password="the-old-password",
        status=Status.CONNECTED,
    )
    client.force_login(org_admin)
    action = reverse("channel_smtp_save", args=[scope])
    fields = rendered_form(client, action)
    password_field = next(name for name in fields if name.endswith("-password"))
    fields[password_field] = "sandbox"

    response = client.post(action, fields)

    assert response.status_code == 302, response.content.decode()[:2000]
    channel = DeliveryChannel.objects.get(organization=org_admin.organization, kind="custom_smtp")
    assert channel.password == "sandbox"
    assert (channel.host, channel.port) == (sandbox.smtp_host, sandbox.smtp_port)


def test_an_admin_sets_the_team_smtp_and_it_becomes_everyones_default(
    client, org_admin, rep, sandbox
):
    client.force_login(org_admin)
    response = client.post(
        reverse("channel_smtp_save", args=["team"]), smtp_post(sandbox, "team"), follow=True
    )
    assert "Team SMTP authenticated and saved" in response.content.decode()
    team_smtp = DeliveryChannel.objects.get(organization=org_admin.organization, owner=None)
    assert team_smtp.is_team_default and team_smtp.status == Status.CONNECTED
    assert team_smtp.password == "sandbox"
    assert channel_for_user(user=rep) == team_smtp
    # The password is never shown back.
    page = client.get(reverse("email_settings")).content.decode()
    assert 'value="sandbox"' not in page


def test_a_rep_cannot_set_the_team_smtp(client, rep, sandbox):
    client.force_login(rep)
    response = client.post(reverse("channel_smtp_save", args=["team"]), smtp_post(sandbox, "team"))
    assert response.status_code == 403
    assert not DeliveryChannel.objects.exists()
    assert "Set the team SMTP" not in client.get(reverse("email_settings")).content.decode()


def test_a_rep_sets_their_own_smtp_and_sends_through_it(client, rep, org, sandbox):
    DeliveryChannel.objects.create(
        organization=org, kind=Kind.CUSTOM_SMTP, is_team_default=True, host="smtp.team.test"
    )
    client.force_login(rep)
    client.post(reverse("channel_smtp_save", args=["own"]), smtp_post(sandbox, "own"))
    own = DeliveryChannel.objects.get(owner=rep, kind=Kind.CUSTOM_SMTP)
    assert channel_for_user(user=rep) == own
    # Saving again with an empty password keeps the stored one (and still logs in).
    response = client.post(
        reverse("channel_smtp_save", args=["own"]),
        smtp_post(sandbox, "own", password="", from_domain="mail.acme.test"),
    )
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.password == "sandbox" and own.from_domain == "mail.acme.test"


def test_a_wrong_password_shows_the_servers_own_words_and_saves_nothing(client, rep, sandbox):
    client.force_login(rep)
    response = client.post(
        reverse("channel_smtp_save", args=["own"]), smtp_post(sandbox, "own", password="wrong")
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "refused the login" in html and "535" in html
    assert not DeliveryChannel.objects.filter(owner=rep).exists()


def test_gmail_and_outlook_cannot_be_added_as_smtp(client, rep, sandbox):
    client.force_login(rep)
    response = client.post(
        reverse("channel_smtp_save", args=["own"]),
        smtp_post(sandbox, "own", host="smtp.gmail.com", port=587),
    )
    assert response.status_code == 400
    assert "use “Connect Gmail”" in response.content.decode()


def test_smtp_login_failures_say_what_went_wrong(sandbox):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(smtp_auth.SmtpLoginFailed, match="refused the connection"):
        smtp_auth.authenticate(
            host="127.0.0.1", port=closed_port, security="none", username="u", password="p"
        )
    # SSL/TLS against a plain-text port.
    with pytest.raises(smtp_auth.SmtpLoginFailed, match="TLS with"):
        smtp_auth.authenticate(
            host=sandbox.smtp_host,
            port=sandbox.smtp_port,
            security="ssl",
            username="mailroom",
            password="sandbox",
        )
    with pytest.raises(smtp_auth.SmtpLoginFailed, match="Unknown host"):
        smtp_auth.authenticate(
            host="no-such-host.invalid", port=25, security="none", username="", password=""
        )


def test_smtp_with_starttls_logs_in(sandbox):
    smtp_auth.authenticate(
        host=sandbox.smtp_host,
        port=sandbox.smtp_port,
        security="starttls",
        username="mailroom",
        password="sandbox",
    )


def test_a_server_that_never_answers_times_out():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        with pytest.raises(smtp_auth.SmtpLoginFailed, match="did not answer within 0.5 seconds"):
            smtp_auth.authenticate(
                host="127.0.0.1",
                port=silent.getsockname()[1],
                security="none",
                username="u",
                password="p",
                timeout=0.5,
            )
    finally:
        silent.close()
    assert smtp_auth.TIMEOUT_SECONDS <= 15


class _Unauthorized(threading.Thread):
    """A minimal HTTP server answering 401 to everything, as an EWS endpoint does to a wrong
    password."""

    def __init__(self):
        super().__init__(daemon=True)
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def _deny(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="ews"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _deny

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def run(self):
        self.server.serve_forever(poll_interval=0.1)


def test_exchange_onprem_with_a_wrong_password_is_not_saved(client, rep):
    server = _Unauthorized()
    server.start()
    try:
        url = f"http://127.0.0.1:{server.server.server_address[1]}/EWS/Exchange.asmx"
        client.force_login(rep)
        response = client.post(
            reverse("channel_exchange_onprem_save"),
            {
                "email_address": "rep@acme.test",
                "ews_url": url,
                "username": "ACME\\rep",
                "password": "wrong",
            },
        )
    finally:
        server.server.shutdown()
    assert response.status_code == 400
    assert "refused the username or password" in response.content.decode()
    assert not DeliveryChannel.objects.filter(owner=rep).exists()
    assert ews_auth.TIMEOUT_SECONDS <= 15


def test_the_page_presents_every_option_with_its_trade_offs(client, rep):
    client.force_login(rep)
    html = client.get(reverse("email_settings")).content.decode()
    for text in (
        "Connect Gmail",
        "Connect Outlook",
        "Recommended",
        "SPF and DKIM",
        "SMTP provider",
        "dedicated IPs",
        "Exchange On-Prem",
        "read from the mailbox's Inbox through EWS",
        "Marketo servers",
        "Not integrated",
        "No channel yet",
    ):
        assert text in html, text
    assert "Legacy servers" not in html


def test_a_non_legacy_organization_cannot_select_the_legacy_servers(client, rep):
    client.force_login(rep)
    response = client.post(reverse("channel_choose"), {"channel": "legacy"})
    assert response.status_code == 403
    assert not DeliveryChannel.objects.exists()


def test_a_legacy_organization_sees_and_selects_the_legacy_servers(client, db, sandbox):
    legacy_rep = UserFactory(
        organization=OrganizationFactory(slug="legacy", is_legacy=True), email="rep@legacy.test"
    )
    client.force_login(legacy_rep)
    html = client.get(reverse("email_settings")).content.decode()
    assert "Legacy servers" in html and "SPF or DKIM" in html
    client.post(reverse("channel_choose"), {"channel": "legacy"})
    assert channel_for_user(user=legacy_rep).kind == Kind.MSC_LEGACY


def test_a_rep_switches_between_usable_channels(client, rep, org):
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL)
    outlook = DeliveryChannelFactory(owner=rep, kind=Kind.EXCHANGE_ONLINE)
    client.force_login(rep)
    client.post(reverse("channel_choose"), {"channel": gmail.pk})
    assert channel_for_user(user=rep) == gmail
    client.post(reverse("channel_choose"), {"channel": outlook.pk})
    assert channel_for_user(user=rep) == outlook
    someone_else = DeliveryChannelFactory(owner=UserFactory(organization=org))
    assert client.post(reverse("channel_choose"), {"channel": someone_else.pk}).status_code == 404


def test_nobody_disconnects_another_users_mailbox(client, rep, org):
    other = DeliveryChannelFactory(owner=UserFactory(organization=org))
    client.force_login(rep)
    assert client.post(reverse("channel_disconnect", args=[other.pk])).status_code == 404
    other.refresh_from_db()
    assert other.status == Status.CONNECTED


def test_the_no_channel_banner_shows_on_other_pages(client, rep):
    client.force_login(rep)
    assert "Connect Gmail or Outlook to unlock sending" in (
        client.get(reverse("outbox")).content.decode()
    )
