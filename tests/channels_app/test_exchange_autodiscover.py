"""Exchange On-Prem with the EWS URL left empty: Mailroom finds the server by Autodiscover, the
way exchangelib (a client nobody here wrote) walks Microsoft's steps — https://<domain>/,
https://autodiscover.<domain>/, the http redirect, then the DNS SRV record
_autodiscover._tcp.<domain> — against the sandbox's DNS, TLS and SOAP Autodiscover, and saves
the EWS URL that worked. A domain without Autodiscover, an unknown mailbox and a wrong password
each read as what they are, and nothing is saved."""

from __future__ import annotations

import pytest
import requests
from django.urls import reverse
from exchangelib.autodiscover import clear_cache

from channels_app.models import DeliveryChannel
from outreach.services import email_enqueue
from tests.outreach.send_helpers import drain, mailbox_sent

Kind = DeliveryChannel.Kind
PASSWORD = "Winter-2026!"  # noqa: S105 - the sandbox mailbox's password
DISCOVERED = "https://exchange.acme.test/exchange/EWS/Exchange.asmx"


@pytest.fixture(autouse=True)
def _fresh_autodiscover_cache():
    """exchangelib keeps what it discovered per domain across processes: start from none."""
    clear_cache()
    yield
    clear_cache()


def _connect(client, *, email_address="rep@acme.test", username="ACME\\rep", password=PASSWORD):
    return client.post(
        reverse("channel_exchange_onprem_save"),
        {
            "email_address": email_address,
            "ews_url": "",
            "username": username,
            "password": password,
            "daily_limit": "",
            "per_minute_limit": "",
        },
        follow=True,
    )


def test_an_empty_ews_url_is_found_by_autodiscover_through_the_srv_record(client, rep, sandbox):
    sandbox.client.add_ews_user(rep.email, PASSWORD, username="ACME\\rep")
    client.force_login(rep)

    page = _connect(client)

    assert page.status_code == 200, page.content.decode()[:2000]
    channel = DeliveryChannel.objects.get(owner=rep, kind=Kind.EXCHANGE_ONPREM)
    assert channel.status == DeliveryChannel.Status.CONNECTED
    assert channel.ews_url == DISCOVERED
    # The discovered server works for sending too.
    email = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hi")
    assert drain(channel).sent == 1
    email.refresh_from_db()
    [sent] = mailbox_sent(sandbox, "exchange", rep.email)
    assert sent["Message-ID"] == email.message_id


def test_a_domain_without_autodiscover_asks_for_the_ews_url(client, rep, sandbox):
    sandbox.client.add_ews_user("rep@northwind.test", PASSWORD, username="NW\\rep")
    client.force_login(rep)

    page = _connect(client, email_address="rep@northwind.test", username="NW\\rep")

    text = page.content.decode()
    assert page.status_code == 400
    assert "Autodiscover could not find the Exchange server for rep@northwind.test" in text
    assert "Enter the EWS URL instead" in text
    assert PASSWORD not in text
    assert not DeliveryChannel.objects.filter(owner=rep).exists()


def test_a_wrong_password_through_autodiscover_is_a_refused_login(client, rep, sandbox):
    sandbox.client.add_ews_user(rep.email, PASSWORD, username="ACME\\rep")
    client.force_login(rep)

    page = _connect(client, password="not-it")

    assert page.status_code == 400
    assert "refused the username or password" in page.content.decode()
    assert not DeliveryChannel.objects.filter(owner=rep).exists()


def test_a_mailbox_autodiscover_does_not_know_is_named(client, rep, sandbox):
    sandbox.client.add_ews_user(rep.email, PASSWORD, username="ACME\\rep")
    client.force_login(rep)

    page = _connect(client, email_address="nobody@acme.test")

    assert page.status_code == 400
    assert "Exchange has no mailbox nobody@acme.test" in page.content.decode()
    assert not DeliveryChannel.objects.filter(owner=rep).exists()


def test_the_pox_service_answers_outlooks_request_schema(sandbox):
    """Outlook and older clients ask the POX service (request schema 2006, response 2006a)."""
    sandbox.client.add_ews_user("pox@acme.test", PASSWORD, username="pox@acme.test")
    sandbox.store.ews_basic_auth = True
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/'
        'requestschema/2006"><Request><EMailAddress>{}</EMailAddress>'
        "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/"
        "responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"
    )
    url = f"{sandbox.https_url}/autodiscover/autodiscover.xml"
    try:
        anonymous = requests.post(
            url, data=body.format("pox@acme.test"), verify=sandbox.ca_file, timeout=10
        )
        found = requests.post(
            url,
            data=body.format("pox@acme.test"),
            auth=("pox@acme.test", PASSWORD),
            verify=sandbox.ca_file,
            timeout=10,
        )
        missing = requests.post(
            url,
            data=body.format("nobody@acme.test"),
            auth=("pox@acme.test", PASSWORD),
            verify=sandbox.ca_file,
            timeout=10,
        )
    finally:
        sandbox.store.ews_basic_auth = False
    assert anonymous.status_code == 401
    assert found.status_code == 200
    assert "<Type>EXPR</Type>" in found.text
    assert f"<EwsUrl>{sandbox.https_url}/exchange/EWS/Exchange.asmx</EwsUrl>" in found.text
    assert "<ErrorCode>500</ErrorCode>" in missing.text
