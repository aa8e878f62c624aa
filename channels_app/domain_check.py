"""What receivers will see of a channel's From domain: SPF, DKIM, DMARC and MX.

dnspython does the lookups (MAILROOM_DNS_NAMESERVER / _PORT: the sandbox's DNS in development
and tests; empty: the system's resolvers). Every answer is one of four states, with plain words
and, when something is missing, the exact record to add:

- SPF: the domain's `v=spf1` record authorises this channel (`include:_spf.google.com` for
  Gmail, `include:spf.protection.outlook.com` for Exchange Online, the SMTP provider's include
  for known providers), found directly or through nested includes, within the 10 DNS lookups
  RFC 7208 allows (more is a permanent error at receivers).
- DKIM: the selector the channel signs with has a key (`google._domainkey` for Gmail,
  `selector1` / `selector2._domainkey` CNAMEs for Exchange Online, the provider's for SMTP).
- DMARC: `_dmarc.<domain>` exists; `p=none` only monitors; alignment comes from the DKIM key of
  the same domain.
- MX: the domain receives mail (replies and bounces need it).

A timeout, a refused or failed query, or an unknown domain is "could not check" — never
"valid"."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import dns.exception
import dns.resolver
from django.conf import settings
from django.utils import timezone

from .models import DeliveryChannel, SendingDomainCheck

Kind = DeliveryChannel.Kind

OK, WARN, FAIL, UNKNOWN = "ok", "warn", "fail", "unknown"
SPF_LOOKUP_LIMIT = 10
_LOOKUP_TERMS = re.compile(
    r"^[+\-~?]?(include:|a\b|a:|a/|mx\b|mx:|mx/|ptr|exists:|redirect=)", re.I
)


@dataclass(frozen=True)
class Expectation:
    provider: str
    spf_include: str
    dkim_selectors: tuple[str, ...]
    dkim_record: str  # what to add when the selector is missing


GMAIL = Expectation(
    "Google Workspace",
    "_spf.google.com",
    ("google",),
    "Admin console → Apps → Google Workspace → Gmail → Authenticate email → Generate new "
    "record, then add the TXT record it shows at google._domainkey.{domain}",
)
OUTLOOK = Expectation(
    "Microsoft 365",
    "spf.protection.outlook.com",
    ("selector1", "selector2"),
    "CNAME selector1._domainkey.{domain} → selector1-<domain-with-dashes>._domainkey."
    "<tenant>.onmicrosoft.com and the same for selector2 (Microsoft Defender portal → Email "
    "authentication settings → DKIM shows the exact values)",
)
SMTP_PROVIDERS = {
    "sendgrid.net": Expectation(
        "SendGrid",
        "sendgrid.net",
        ("s1", "s2"),
        "the s1 / s2 CNAMEs SendGrid shows under Settings → Sender Authentication",
    ),
    "sparkpostmail.com": Expectation(
        "SparkPost",
        "sparkpostmail.com",
        (),
        "the DKIM TXT record SparkPost shows under Sending Domains",
    ),
}


@dataclass(frozen=True)
class CheckLine:
    name: str
    state: str
    summary: str
    record_to_add: str = ""


def _resolver() -> dns.resolver.Resolver:
    if settings.MAILROOM_DNS_NAMESERVER:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [settings.MAILROOM_DNS_NAMESERVER]
        resolver.port = settings.MAILROOM_DNS_PORT
    else:
        resolver = dns.resolver.Resolver()
    resolver.timeout = resolver.lifetime = settings.MAILROOM_DNS_TIMEOUT
    return resolver


class _CouldNotCheck(Exception):
    pass


def _records(resolver, name: str, rdtype: str) -> list[str] | None:
    """The records (None: the name does not exist or has none of that type). Raises
    _CouldNotCheck for a timeout or a server failure."""
    try:
        answer = resolver.resolve(name, rdtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return None
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.YXDOMAIN) as exc:
        raise _CouldNotCheck(f"{name} {rdtype}: {exc.__class__.__name__}") from exc
    if answer.rrset is None:
        return None
    if rdtype == "TXT":
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
    return [r.to_text() for r in answer]


def _spf_record(resolver, domain: str) -> str | None:
    records = [r for r in _records(resolver, domain, "TXT") or [] if r.lower().startswith("v=spf1")]
    return records[0] if records else None


def _spf_walk(resolver, domain: str, seen: set[str]) -> tuple[int, set[str]]:
    """(DNS lookups the record needs, every domain included on the way)."""
    record = _spf_record(resolver, domain)
    if record is None:
        return 0, set()
    lookups, includes = 0, set()
    for term in record.split()[1:]:
        if not _LOOKUP_TERMS.match(term):
            continue
        lookups += 1
        lowered = term.lower().lstrip("+-~?")
        if lowered.startswith(("include:", "redirect=")):
            target = lowered.split(":", 1)[-1] if ":" in lowered else lowered.split("=", 1)[1]
            includes.add(target)
            if target not in seen and lookups <= SPF_LOOKUP_LIMIT:
                seen.add(target)
                nested, nested_includes = _spf_walk(resolver, target, seen)
                lookups += nested
                includes |= nested_includes
    return lookups, includes


def expectation_for(channel: DeliveryChannel) -> Expectation | None:
    if channel.kind == Kind.GMAIL:
        return GMAIL
    if channel.kind == Kind.EXCHANGE_ONLINE:
        return OUTLOOK
    if channel.kind == Kind.CUSTOM_SMTP:
        host = (channel.host or "").lower()
        for suffix, expectation in SMTP_PROVIDERS.items():
            if host == suffix or host.endswith("." + suffix) or suffix.split(".")[0] in host:
                return expectation
    return None


def sending_domain(channel: DeliveryChannel) -> str:
    if channel.kind in DeliveryChannel.MAILBOX_KINDS and channel.mailbox_address:
        return channel.mailbox_address.rpartition("@")[2].lower()
    if channel.from_domain:
        return channel.from_domain.lower()
    owner = channel.owner
    return owner.email.rpartition("@")[2].lower() if owner else ""


def domain_check(*, domain: str, expectation: Expectation | None) -> list[CheckLine]:
    """The four lines for `domain` as a channel of `expectation`'s provider sends it."""
    resolver = _resolver()
    try:
        exists = _records(resolver, domain, "SOA") is not None or (
            _records(resolver, domain, "TXT") is not None
            or _records(resolver, domain, "MX") is not None
        )
    except _CouldNotCheck as exc:
        return [
            CheckLine(n, UNKNOWN, f"Could not check: DNS did not answer ({exc}).")
            for n in ("SPF", "DKIM", "DMARC", "MX")
        ]
    if not exists:
        return [
            CheckLine(n, UNKNOWN, f"Could not check: {domain} does not exist in DNS.")
            for n in ("SPF", "DKIM", "DMARC", "MX")
        ]
    return [
        _guard("SPF", lambda: _spf_line(resolver, domain, expectation)),
        _guard("DKIM", lambda: _dkim_line(resolver, domain, expectation)),
        _guard("DMARC", lambda: _dmarc_line(resolver, domain)),
        _guard("MX", lambda: _mx_line(resolver, domain)),
    ]


def _guard(name: str, build) -> CheckLine:
    try:
        return build()
    except _CouldNotCheck as exc:
        return CheckLine(name, UNKNOWN, f"Could not check: DNS did not answer ({exc}).")


def _spf_line(resolver, domain: str, expectation: Expectation | None) -> CheckLine:
    record = _spf_record(resolver, domain)
    include = f"include:{expectation.spf_include}" if expectation else ""
    if record is None:
        suggested = f"v=spf1 {include} ~all".replace("  ", " ")
        return CheckLine(
            "SPF",
            FAIL,
            "No SPF record: receivers cannot tell that this channel may send for "
            f"{domain}, so its mail is more likely to be junked.",
            f'TXT {domain} "{suggested}"',
        )
    lookups, includes = _spf_walk(resolver, domain, {domain})
    if lookups > SPF_LOOKUP_LIMIT:
        return CheckLine(
            "SPF",
            FAIL,
            f"The SPF record needs {lookups} DNS lookups; receivers stop at 10 and treat it as "
            "an error. Remove includes you no longer use or flatten some into ip4: ranges.",
        )
    if expectation is None:
        return CheckLine(
            "SPF",
            WARN,
            f"SPF record found ({lookups} of 10 lookups); Mailroom cannot tell whether it "
            "authorises this SMTP server — check it lists the server's addresses or include.",
        )
    if expectation.spf_include not in includes:
        fixed = record.replace(" ~all", f" {include} ~all").replace(" -all", f" {include} -all")
        if fixed == record:
            fixed = f"{record} {include}"
        return CheckLine(
            "SPF",
            FAIL,
            f"The SPF record does not authorise {expectation.provider}: mail from this channel "
            "fails SPF.",
            f'TXT {domain} "{fixed}"',
        )
    return CheckLine(
        "SPF",
        OK,
        f"Authorises {expectation.provider} ({lookups} of 10 DNS lookups).",
    )


def _dkim_line(resolver, domain: str, expectation: Expectation | None) -> CheckLine:
    if expectation is None or not expectation.dkim_selectors:
        return CheckLine(
            "DKIM",
            WARN,
            "Mailroom does not know which DKIM selector this server signs with; ask your "
            "provider for the record and check that it is published.",
        )
    missing = []
    for selector in expectation.dkim_selectors:
        name = f"{selector}._domainkey.{domain}"
        txt = _records(resolver, name, "TXT") or []
        cname = _records(resolver, name, "CNAME") or []
        if not cname and not any("p=" in record for record in txt):
            missing.append(name)
    if missing:
        return CheckLine(
            "DKIM",
            FAIL,
            f"No DKIM key at {', '.join(missing)}: {expectation.provider} cannot sign as "
            f"{domain}, so DMARC can only pass through SPF.",
            expectation.dkim_record.format(domain=domain),
        )
    return CheckLine("DKIM", OK, f"{expectation.provider}'s DKIM key is published.")


def _dmarc_line(resolver, domain: str) -> CheckLine:
    records = [
        r for r in _records(resolver, f"_dmarc.{domain}", "TXT") or [] if r.startswith("v=DMARC1")
    ]
    if not records:
        return CheckLine(
            "DMARC",
            FAIL,
            "No DMARC record: Gmail and Yahoo require one from bulk senders since 2024.",
            f'TXT _dmarc.{domain} "v=DMARC1; p=none; rua=mailto:dmarc@{domain}"',
        )
    tags = dict(part.strip().split("=", 1) for part in records[0].split(";") if "=" in part.strip())
    policy = tags.get("p", "none").strip().lower()
    strict = [name for name in ("adkim", "aspf") if tags.get(name, "r").strip().lower() == "s"]
    alignment = f"strict alignment ({', '.join(strict)})" if strict else "relaxed alignment"
    if policy == "none":
        return CheckLine(
            "DMARC",
            WARN,
            f"DMARC present, policy none (monitoring only), {alignment}. Move to "
            "p=quarantine once reports show your mail passes.",
        )
    return CheckLine("DMARC", OK, f"DMARC present, policy {policy}, {alignment}.")


def _mx_line(resolver, domain: str) -> CheckLine:
    records = _records(resolver, domain, "MX") or []
    if not records:
        return CheckLine(
            "MX",
            WARN,
            f"{domain} has no MX record: replies and bounces to it cannot be delivered.",
        )
    hosts = ", ".join(sorted(r.split()[-1].rstrip(".") for r in records)[:3])
    return CheckLine("MX", OK, f"Receives mail ({hosts}).")


def lines_to_json(lines: list[CheckLine]) -> list[dict]:
    return [asdict(line) for line in lines]


def overall(lines: list[CheckLine]) -> str:
    states = {line.state for line in lines}
    for state in (FAIL, UNKNOWN, WARN):
        if state in states:
            return state
    return OK


# --- stored checks (the page reads these; a task writes them) ----------------------------------


def _admins(organization_id: int):
    from accounts.models import User

    return User.objects.filter(
        organization_id=organization_id, role=User.Role.ADMIN, is_active=True
    )


def channel_domain_check(*, channel: DeliveryChannel) -> SendingDomainCheck | None:
    """Check `channel`'s From domain now and store it; a change from the last check (DKIM
    removed, SPF broken, fixed) goes to the organization admins' live feed."""
    domain = sending_domain(channel)
    if not domain or channel.kind == Kind.MSC_LEGACY:
        return None
    expectation = expectation_for(channel)
    lines = domain_check(domain=domain, expectation=expectation)
    provider = expectation.provider if expectation else ""
    previous = SendingDomainCheck.objects.filter(
        organization_id=channel.organization_id, domain=domain, provider=provider
    ).first()
    check, _ = SendingDomainCheck.objects.update_or_create(
        organization_id=channel.organization_id,
        domain=domain,
        provider=provider,
        defaults={
            "state": overall(lines),
            "lines": lines_to_json(lines),
            "checked_at": timezone.now(),
        },
    )
    if previous is not None:
        _tell_changes(check=check, before=previous.lines)
    return check


def _tell_changes(*, check: SendingDomainCheck, before: list[dict]) -> None:
    from analytics.feed import feed_event_record, feed_text
    from analytics.models import FeedEvent

    old = {line["name"]: line["state"] for line in before}
    changed = [
        line
        for line in check.lines
        if old.get(line["name"]) not in (None, line["state"])
        and UNKNOWN not in (old.get(line["name"]), line["state"])
    ]
    if not changed:
        return
    words = "; ".join(f"{line['name']} {old[line['name']]} → {line['state']}" for line in changed)
    for admin in _admins(check.organization_id):
        feed_event_record(
            user=admin,
            kind=FeedEvent.Kind.DOMAIN_CHECK,
            title=feed_text("domain_check", domain=check.domain, changes=words),
            detail=[feed_text("verbatim", text=line["summary"]) for line in changed],
            dedupe_key=f"domain:{check.pk}:{check.checked_at.isoformat()}",
        )


def sending_domains_recheck(*, now=None) -> int:
    """The periodic re-check of every connected channel's From domain."""
    channels = DeliveryChannel.objects.filter(status=DeliveryChannel.Status.CONNECTED).exclude(
        kind=Kind.MSC_LEGACY
    )
    checked = 0
    seen: set[tuple[int, str, str]] = set()
    for channel in channels.select_related("owner").iterator():
        expectation = expectation_for(channel)
        key = (
            channel.organization_id,
            sending_domain(channel),
            expectation.provider if expectation else "",
        )
        if key in seen:
            continue
        seen.add(key)
        checked += channel_domain_check(channel=channel) is not None
    return checked


def domain_check_stored(*, channel: DeliveryChannel) -> SendingDomainCheck | None:
    """The stored check of `channel`'s From domain (None when not checked yet)."""
    expectation = expectation_for(channel)
    return SendingDomainCheck.objects.filter(
        organization_id=channel.organization_id,
        domain=sending_domain(channel),
        provider=expectation.provider if expectation else "",
    ).first()
