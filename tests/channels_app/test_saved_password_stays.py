"""A saved SMTP or Exchange password is only ever sent to the server it was saved for: a
changed host, port (or SMTP security) with the password left blank is a form error, and a
listener on the new address sees nothing."""

import socket
import threading

import pytest
from django.urls import reverse

from channels_app.models import DeliveryChannel
from channels_app.providers import ews_auth, smtp_auth
from channels_app.services import channel_exchange_onprem_save, channel_smtp_save

Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status
SECRET = "the-saved-secret"


class Listener(threading.Thread):
    """Accepts connections on a free port and records every byte it is sent. Speaks just
    enough SMTP (a greeting, EHLO with AUTH, 235 to anything) to be sent a password."""

    def __init__(self, greeting: bytes = b"220 listener ESMTP\r\n"):
        super().__init__(daemon=True)
        self.greeting = greeting
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.connections = 0
        self.stopping = False

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(2)
                conn.sendall(self.greeting)
                try:
                    while data := conn.recv(4096):
                        self.received += data
                        if data.upper().startswith(b"EHLO"):
                            conn.sendall(b"250-listener\r\n250 AUTH PLAIN LOGIN\r\n")
                        elif data.upper().startswith(b"QUIT"):
                            conn.sendall(b"221 bye\r\n")
                            break
                        else:
                            conn.sendall(b"235 ok\r\n")
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener():
    running = Listener()
    running.start()
    yield running
    running.stop()


def _saved_smtp(org_admin, sandbox, team: bool):
    return DeliveryChannel.objects.create(
        organization=org_admin.organization,
        owner=None if team else org_admin,
        is_team_default=team,
        kind=Kind.CUSTOM_SMTP,
        host=sandbox.smtp_host,
        port=sandbox.smtp_port,
        security="none",
        username="mailroom",
        password=SECRET,
        status=Status.CONNECTED,
    )


@pytest.mark.parametrize("scope", ["team", "own"])
@pytest.mark.parametrize("change", ["port", "host"])
def test_a_changed_smtp_server_needs_the_password_typed_again(
    client, org_admin, sandbox, listener, scope, change
):
    _saved_smtp(org_admin, sandbox, team=scope == "team")
    client.force_login(org_admin)
    # "localhost" is another host name for the listener's address.
    host = "localhost" if change == "host" else sandbox.smtp_host
    data = {
        "host": host,
        "port": listener.port,
        "security": "none",
        "username": "mailroom",
        "password": "",
        "from_domain": "acme.test",
    }
    response = client.post(
        reverse("channel_smtp_save", args=[scope]), {f"{scope}-{k}": v for k, v in data.items()}
    )
    assert response.status_code == 400
    assert "type the password again" in response.content.decode()
    assert listener.connections == 0 and listener.received == b""
    channel = DeliveryChannel.objects.get(organization=org_admin.organization)
    assert (channel.host, channel.port) == (sandbox.smtp_host, sandbox.smtp_port)


def test_the_service_refuses_too(org_admin, sandbox, listener):
    _saved_smtp(org_admin, sandbox, team=True)
    with pytest.raises(smtp_auth.SmtpLoginFailed, match="type the password again"):
        channel_smtp_save(
            user=org_admin,
            team=True,
            host=sandbox.smtp_host,
            port=listener.port,
            security="none",
            username="mailroom",
            password="",
        )
    assert listener.received == b""


def _post_team_smtp(client, sandbox, **changes):
    """The team SMTP form as saved before, password left blank, with `changes`."""
    data = {"host": sandbox.smtp_host, "port": sandbox.smtp_port, "security": "none"}
    data.update(username="mailroom", password="", from_domain="acme.test")
    data.update(changes)
    return client.post(
        reverse("channel_smtp_save", args=["team"]), {f"team-{k}": v for k, v in data.items()}
    )


def test_a_security_downgrade_needs_the_password_too(client, org_admin, sandbox):
    channel = _saved_smtp(org_admin, sandbox, team=True)
    channel.security = "starttls"
    channel.save()
    client.force_login(org_admin)
    response = _post_team_smtp(client, sandbox, security="none")
    assert "type the password again" in response.content.decode()


def test_the_same_server_keeps_the_saved_password(client, org_admin, sandbox):
    channel = _saved_smtp(org_admin, sandbox, team=True)
    channel.password = "sandbox"  # the sandbox's real password, saved earlier
    channel.save()
    client.force_login(org_admin)
    response = _post_team_smtp(client, sandbox, from_domain="other.test")
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.from_domain == "other.test" and channel.password == "sandbox"


def _saved_onprem(rep, url):
    return DeliveryChannel.objects.create(
        organization=rep.organization,
        owner=rep,
        kind=Kind.EXCHANGE_ONPREM,
        mailbox_address=rep.email,
        ews_url=url,
        username="ACME\\rep",
        password=SECRET,
        status=Status.CONNECTED,
    )


@pytest.mark.parametrize("new_url", ["port", "autodiscover"])
def test_a_changed_exchange_server_needs_the_password_typed_again(client, rep, listener, new_url):
    _saved_onprem(rep, "https://mail.acme.test/EWS/Exchange.asmx")
    client.force_login(rep)
    url = f"http://127.0.0.1:{listener.port}/EWS/Exchange.asmx" if new_url == "port" else ""
    response = client.post(
        reverse("channel_exchange_onprem_save"),
        {"email_address": rep.email, "ews_url": url, "username": "ACME\\rep", "password": ""},
    )
    assert response.status_code == 400
    assert "type the password again" in response.content.decode()
    assert listener.connections == 0 and listener.received == b""
    with pytest.raises(ews_auth.EwsLoginFailed, match="type the password again"):
        channel_exchange_onprem_save(
            user=rep, email_address=rep.email, username="ACME\\rep", password="", ews_url=url
        )
    assert listener.connections == 0
