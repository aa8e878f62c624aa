"""The address rule for servers users type in (SMTP, Exchange On-Prem): public addresses only
unless the operator allows a network; resolved once and connected to as checked; a port that
answers something other than SMTP or HTTP is not quoted back."""

import socket

import pytest
from django.test import override_settings
from django.urls import reverse

from channels_app.exceptions import PermanentProviderError
from channels_app.providers import ews_auth, smtp, smtp_auth
from channels_app.providers.addresses import AddressRefused, resolve_checked
from tests.channels_app.test_saved_password_stays import Listener

REFUSED = [
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "169.254.169.254",
    "0.0.0.0",  # noqa: S104 — an address under test, not a bind
    "100.64.0.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
]


def fake_resolver(monkeypatch, name: str, answers: list[str]) -> list[str]:
    """`name` resolves to answers[0] at the first lookup, answers[1] at the second (as a
    rebinding DNS server would), …, the last one from then on. Returns the lookups made."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def resolver(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = answers[min(len(lookups), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    return lookups


def _smtp_login(host: str, port: int, *, security: str, password: str) -> None:
    smtp_auth.authenticate(
        host=host, port=port, security=security, username="mailroom", password=password
    )


@pytest.fixture
def no_private_allowed():
    with override_settings(MAILROOM_ALLOWED_PRIVATE_NETWORKS=[]):
        yield


@pytest.mark.parametrize("address", REFUSED)
def test_private_local_and_reserved_addresses_are_refused(no_private_allowed, address):
    with pytest.raises(AddressRefused, match="MAILROOM_ALLOWED_PRIVATE_NETWORKS"):
        resolve_checked(address, 25)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(no_private_allowed, address):
    assert resolve_checked(address, 25) == address


def test_the_operator_allows_a_network():
    with override_settings(MAILROOM_ALLOWED_PRIVATE_NETWORKS=["10.20.0.0/16"]):
        assert resolve_checked("10.20.3.4", 25) == "10.20.3.4"
        with pytest.raises(AddressRefused):
            resolve_checked("10.21.0.1", 25)


def test_a_name_resolving_to_any_private_address_is_refused(monkeypatch, no_private_allowed):
    def both(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", both)
    with pytest.raises(AddressRefused, match="10.0.0.7"):
        resolve_checked("mixed.example.com", 25)


def test_authenticate_and_save_refuses_a_private_host_without_connecting(
    client, org_admin, no_private_allowed
):
    listener = Listener()
    listener.start()
    try:
        client.force_login(org_admin)
        data = {"host": "127.0.0.1", "port": listener.port, "security": "none"}
        data.update(username="mailroom", password="secret", from_domain="acme.test")
        response = client.post(
            reverse("channel_smtp_save", args=["team"]),
            {f"team-{k}": v for k, v in data.items()},
        )
        assert response.status_code == 400
        assert "only connects to servers on the public internet" in response.content.decode()
        response = client.post(
            reverse("channel_exchange_onprem_save"),
            {
                "email_address": org_admin.email,
                "ews_url": f"http://127.0.0.1:{listener.port}/EWS/Exchange.asmx",
                "username": "",
                "password": "secret",
            },
        )
        assert response.status_code == 400
        assert "only connects to servers on the public internet" in response.content.decode()
    finally:
        listener.stop()
    assert listener.connections == 0


def test_the_host_is_resolved_once_and_the_checked_address_is_used(monkeypatch):
    """A name only our resolver knows: the connection can only reach the listener through the
    address the check returned (a second lookup, as a rebinding DNS server would answer,
    never happens)."""
    listener = Listener()
    listener.start()
    lookups = fake_resolver(monkeypatch, "smtp.rebind.test", ["127.0.0.1", "10.9.9.9"])
    try:
        _smtp_login("smtp.rebind.test", listener.port, security="none", password="secret")
    finally:
        listener.stop()
    assert lookups == ["smtp.rebind.test"]
    assert listener.connections == 1 and b"AUTH" in listener.received


@pytest.fixture
def ssh_port():
    banner = Listener(greeting=b"SSH-2.0-OpenSSH_9.6 internal-build-server\r\n")
    banner.start()
    yield banner
    banner.stop()


def test_a_non_smtp_answer_is_not_shown(ssh_port):
    with pytest.raises(smtp_auth.SmtpLoginFailed) as failed:
        smtp_auth.authenticate(
            host="127.0.0.1", port=ssh_port.port, security="none", username="u", password="p"
        )
    assert "OpenSSH" not in failed.value.message
    assert "internal-build-server" not in failed.value.message
    assert "not SMTP" in failed.value.message


def test_a_non_http_answer_is_not_shown_for_exchange(ssh_port):
    with pytest.raises(ews_auth.EwsLoginFailed) as failed:
        ews_auth.authenticate(
            email_address="rep@acme.test",
            username="",
            password="p",
            ews_url=f"http://127.0.0.1:{ssh_port.port}/EWS/Exchange.asmx",
        )
    assert "OpenSSH" not in failed.value.message, failed.value.message
    assert "internal-build-server" not in failed.value.message


def test_sending_checks_the_address_too(no_private_allowed):
    server = smtp.SmtpServer(
        host="192.168.10.10", port=25, security="none", username="u", password="p"
    )
    with pytest.raises(PermanentProviderError, match="public internet"):
        smtp.send(
            server=server,
            raw_message=b"Subject: x\r\n\r\nx\r\n",
            envelope_from="rep@acme.test",
            recipients=["a@example.com"],
        )


def test_sending_through_exchange_checks_the_address_too(no_private_allowed):
    from channels_app.providers.ews import send_via_ews

    with pytest.raises(PermanentProviderError, match="public internet"):
        send_via_ews(
            ews_url="https://10.1.1.1/EWS/Exchange.asmx",
            mailbox_address="rep@acme.test",
            username="",
            password="p",
            raw_message=b"Subject: x\r\n\r\nx\r\n",
        )


def test_the_legacy_relay_from_settings_is_not_checked():
    from channels_app.models import DeliveryChannel
    from channels_app.providers.facade import smtp_server

    channel = DeliveryChannel(kind=DeliveryChannel.Kind.MSC_LEGACY)
    assert smtp_server(channel).checked is False


def test_tls_is_verified_against_the_name_not_the_checked_address(sandbox, monkeypatch):
    """The sandbox's certificate names localhost and 127.0.0.1. Through the checked address,
    "localhost" still logs in over STARTTLS, and another name that resolves to the same
    address is refused: the certificate is checked against the name typed in."""
    _smtp_login("localhost", sandbox.smtp_port, security="starttls", password="sandbox")
    fake_resolver(monkeypatch, "mail.other-name.test", ["127.0.0.1"])
    with pytest.raises(smtp_auth.SmtpLoginFailed, match="certificate"):
        _smtp_login(
            "mail.other-name.test", sandbox.smtp_port, security="starttls", password="sandbox"
        )
