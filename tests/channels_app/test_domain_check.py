"""The sending-domain check (issue 12): SPF, DKIM, DMARC and MX of a channel's From domain,
looked up with dnspython against the sandbox's DNS server (UDP, and TCP when an answer is
truncated), shown in Email settings with the record to add; "could not check", never "valid",
when DNS does not answer; a change between checks in the admins' feed."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.resolver
import pytest
from django.test import override_settings
from django.urls import reverse

from analytics.models import FeedEvent
from channels_app import domain_check as dc
from channels_app.models import DeliveryChannel
from sandbox import dns as sandbox_dns
from tests.bounces.poll_helpers import connect
from tests.outreach.send_helpers import choose

Kind = DeliveryChannel.Kind


def _states(lines) -> dict[str, str]:
    return {line.name: line.state for line in lines}


def test_the_sandbox_dns_answers_dnspythons_stock_resolver_over_udp_and_tcp(sandbox):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = [sandbox.host], sandbox.dns_port

    txt = [b"".join(r.strings).decode() for r in resolver.resolve("acme.test", "TXT")]
    udp = dns.query.udp(
        dns.message.make_query("big.test", "TXT"), sandbox.host, port=sandbox.dns_port, timeout=3
    )
    tcp = dns.query.tcp(
        dns.message.make_query("big.test", "TXT"), sandbox.host, port=sandbox.dns_port, timeout=3
    )
    big = resolver.resolve("big.test", "TXT")  # truncated over UDP: the resolver retries on TCP

    assert any(t.startswith("v=spf1 include:_spf.google.com") for t in txt)
    assert udp.flags & dns.flags.TC and not udp.answer
    assert len(tcp.answer[0]) == 13 and len(big) == 13
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("nobody.acme.test", "TXT")


def test_a_domain_set_up_for_gmail_passes_for_gmail(sandbox):
    lines = dc.domain_check(domain="acme.test", expectation=dc.GMAIL)

    assert _states(lines) == {"SPF": "ok", "DKIM": "ok", "DMARC": "ok", "MX": "ok"}
    assert "3 of 10" in lines[0].summary or "of 10 DNS lookups" in lines[0].summary


def test_outlook_on_the_same_domain_is_told_the_dkim_records_to_add(sandbox):
    lines = dc.domain_check(domain="acme.test", expectation=dc.OUTLOOK)

    dkim = next(line for line in lines if line.name == "DKIM")
    assert dkim.state == "fail"
    assert "selector1._domainkey.acme.test" in dkim.summary
    assert "CNAME selector1._domainkey.acme.test" in dkim.record_to_add
    assert _states(dc.domain_check(domain="outlook-ready.test", expectation=dc.OUTLOOK)) == {
        "SPF": "ok",
        "DKIM": "ok",
        "DMARC": "ok",
        "MX": "ok",
    }


def test_a_domain_with_nothing_set_up_gets_the_exact_records(sandbox):
    lines = {
        line.name: line for line in dc.domain_check(domain="legacy.test", expectation=dc.GMAIL)
    }

    assert lines["SPF"].state == "fail"
    assert lines["SPF"].record_to_add == 'TXT legacy.test "v=spf1 include:_spf.google.com ~all"'
    assert lines["DKIM"].state == "fail"
    assert lines["DMARC"].state == "fail"
    assert lines["DMARC"].record_to_add.startswith('TXT _dmarc.legacy.test "v=DMARC1; p=none')
    assert lines["MX"].state == "ok"


def test_spf_without_the_provider_gets_the_fixed_record_and_p_none_is_a_warning(sandbox):
    lines = {
        line.name: line for line in dc.domain_check(domain="northwind.test", expectation=dc.GMAIL)
    }

    assert lines["SPF"].state == "fail"
    assert (
        lines["SPF"].record_to_add == 'TXT northwind.test "v=spf1 mx include:_spf.google.com -all"'
    )
    assert lines["DMARC"].state == "warn" and "monitoring only" in lines["DMARC"].summary


def test_spf_over_ten_lookups_is_an_error(sandbox):
    lines = {
        line.name: line for line in dc.domain_check(domain="toomany.test", expectation=dc.GMAIL)
    }

    assert lines["SPF"].state == "fail"
    assert "12 DNS lookups" in lines["SPF"].summary


@pytest.mark.parametrize("domain", ["slow.test", "gmail.example"], ids=["timeout", "refused"])
def test_dns_that_does_not_answer_is_could_not_check_never_valid(sandbox, domain):
    with override_settings(MAILROOM_DNS_TIMEOUT=0.5):
        lines = dc.domain_check(domain=domain, expectation=dc.GMAIL)

    assert {line.state for line in lines} == {"unknown"}
    assert all(line.summary.startswith("Could not check") for line in lines)


def test_an_unknown_domain_is_could_not_check(sandbox):
    lines = dc.domain_check(domain="nowhere.test", expectation=dc.GMAIL)

    assert {line.state for line in lines} == {"unknown"}
    assert "does not exist" in lines[0].summary


def test_email_settings_shows_the_check_and_the_records_to_add(sandbox, client, rep):
    channel = choose(rep, connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE))
    client.force_login(rep)

    before = client.get(reverse("email_settings")).content.decode()
    response = client.post(reverse("channel_domain_check", args=[channel.pk]), follow=True)

    assert "Not checked yet" in before
    page = response.content.decode()
    assert "Sending domain: what receivers see" in page
    assert "CNAME selector1._domainkey.acme.test" in page
    assert "Authorises Microsoft 365" in page


def test_a_change_between_checks_goes_to_the_admins_feed(sandbox, rep, org_admin, monkeypatch):
    channel = choose(rep, connect(sandbox, owner=rep, kind=Kind.GMAIL))
    first = dc.channel_domain_check(channel=channel)
    assert first.state == "ok"
    monkeypatch.delitem(sandbox_dns.ZONE, "google._domainkey.acme.test")

    assert dc.sending_domains_recheck() == 1

    [event] = FeedEvent.objects.filter(user=org_admin, kind=FeedEvent.Kind.DOMAIN_CHECK)
    assert "acme.test" in event.title and "DKIM ok → fail" in event.title
    assert not FeedEvent.objects.filter(user=rep, kind=FeedEvent.Kind.DOMAIN_CHECK).exists()


def test_every_channel_of_the_rep_has_its_domain_on_the_page(sandbox, client, rep):
    choose(rep, connect(sandbox, owner=rep, kind=Kind.GMAIL))
    connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    client.force_login(rep)
    for channel in DeliveryChannel.objects.filter(owner=rep):
        client.post(reverse("channel_domain_check", args=[channel.pk]))

    page = client.get(reverse("email_settings")).content.decode()

    assert "Authorises Google Workspace" in page  # the Gmail channel in use
    assert "Authorises Microsoft 365" in page  # the Outlook one beside it
    assert "CNAME selector1._domainkey.acme.test" in page
