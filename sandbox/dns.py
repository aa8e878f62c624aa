"""A small authoritative DNS server for the demo's and the tests' sending domains, on UDP and
TCP (RFC 1035, RFC 7766), built on dnspython's wire format.

It answers TXT (SPF, DKIM, DMARC), MX, CNAME and A for the names in `ZONE`, NXDOMAIN for
unknown names under them, REFUSED for names outside them, and sets TC on a UDP answer over 512
bytes (no EDNS) so a resolver retries over TCP as with a real server. The domains cover every
state the sending-domain check shows: good for Gmail and Outlook, missing records, an SPF
record over the 10-lookup limit, DMARC only monitoring. `slow.test` never answers (a timeout)."""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

GOOGLE_DKIM = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "A" * 300
# name -> [(type, value)]
ZONE: dict[str, list[tuple[str, str]]] = {
    # The providers' own SPF records (shortened: the lookups count, not the addresses).
    "_spf.google.com": [("TXT", "v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ~all")],
    "spf.protection.outlook.com": [("TXT", "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 -all")],
    "sendgrid.net": [("TXT", "v=spf1 ip4:167.89.0.0/17 ip4:208.117.48.0/20 ~all")],
    "sparkpostmail.com": [("TXT", "v=spf1 ip4:192.174.80.0/20 ~all")],
    # acme.test: good for Gmail; Outlook authorised by SPF but its DKIM selectors are missing.
    "acme.test": [
        ("TXT", "v=spf1 include:_spf.google.com include:spf.protection.outlook.com ~all"),
        ("TXT", "google-site-verification=sandbox"),
        ("MX", "1 smtp.google.com."),
    ],
    "google._domainkey.acme.test": [("TXT", GOOGLE_DKIM)],
    # Exchange Autodiscover for acme.test's on-prem mailboxes: the SRV record clients look up
    # when https://acme.test/ and https://autodiscover.acme.test/ do not answer (Microsoft's
    # step 4), pointing at the sandbox's Exchange host (port 443, the only one clients accept).
    "_autodiscover._tcp.acme.test": [("SRV", "0 0 443 exchange.acme.test.")],
    "exchange.acme.test": [("A", "127.0.0.1")],
    "_dmarc.acme.test": [("TXT", "v=DMARC1; p=quarantine; rua=mailto:dmarc@acme.test")],
    # outlook-ready.test: good for Outlook (DKIM selectors are CNAMEs to the tenant's keys).
    "outlook-ready.test": [
        ("TXT", "v=spf1 include:spf.protection.outlook.com -all"),
        ("MX", "0 outlook-ready-test.mail.protection.outlook.com."),
    ],
    "selector1._domainkey.outlook-ready.test": [
        ("CNAME", "selector1-outlook-ready-test._domainkey.sandbox.onmicrosoft.com.")
    ],
    "selector2._domainkey.outlook-ready.test": [
        ("CNAME", "selector2-outlook-ready-test._domainkey.sandbox.onmicrosoft.com.")
    ],
    "_dmarc.outlook-ready.test": [("TXT", "v=DMARC1; p=reject; adkim=s; aspf=s")],
    # legacy.test: nothing set up — no SPF, no DKIM, no DMARC (the legacy servers' customers).
    "legacy.test": [("MX", "10 mx.legacy.test.")],
    # northwind.test: SPF without the sender's provider, DMARC only monitoring.
    "northwind.test": [("TXT", "v=spf1 mx -all"), ("MX", "10 mx.northwind.test.")],
    "_dmarc.northwind.test": [("TXT", "v=DMARC1; p=none")],
    # toomany.test: SPF that needs more than 10 DNS lookups (permerror at receivers).
    "toomany.test": [
        (
            "TXT",
            "v=spf1 include:_spf.google.com a mx "
            + " ".join(f"include:n{i}.toomany.test" for i in range(9))
            + " ~all",
        ),
        ("MX", "1 smtp.google.com."),
    ],
    **{f"n{i}.toomany.test": [("TXT", "v=spf1 ip4:192.0.2.0/24 ~all")] for i in range(9)},
    "google._domainkey.toomany.test": [("TXT", GOOGLE_DKIM)],
    "_dmarc.toomany.test": [("TXT", "v=DMARC1; p=quarantine")],
    # big.test: a TXT set too large for a 512-byte UDP answer (truncated: retried over TCP).
    "big.test": [("TXT", "v=spf1 include:_spf.google.com ~all")]
    + [("TXT", f"verification-{i}=" + "x" * 60) for i in range(12)],
    "google._domainkey.big.test": [("TXT", GOOGLE_DKIM)],
}
ZONE_APEXES = ("test", "google.com", "outlook.com", "sendgrid.net", "sparkpostmail.com")
SILENT = ("slow.test",)


def stand_in_hosts() -> list[str]:
    """The names whose A record is this machine: hosts the sandbox itself plays (its TLS
    certificate names them; MAILROOM_CONNECT_TO sends their port 443 to the sandbox)."""
    return sorted(name for name, records in ZONE.items() if ("A", "127.0.0.1") in records)


def _txt(value: str) -> str:
    # TXT strings are at most 255 octets each; a longer value is split (RFC 7208 §3.3).
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"' + chunk.replace('"', '\\"') + '"' for chunk in chunks)


def answer(query: dns.message.Message) -> dns.message.Message | None:
    """The response to one query (None: stay silent, as a dead server would)."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if not query.question:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = query.question[0]
    name = question.name.to_text(omit_final_dot=True).lower()
    if name in SILENT or any(name.endswith("." + s) for s in SILENT):
        return None
    if not any(name == apex or name.endswith("." + apex) for apex in ZONE_APEXES):
        response.set_rcode(dns.rcode.REFUSED)
        return response
    records = ZONE.get(name)
    if records is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
        return response
    wanted = dns.rdatatype.to_text(question.rdtype)
    cname = [value for kind, value in records if kind == "CNAME"]
    matches = [(kind, value) for kind, value in records if kind == wanted]
    if cname and wanted != "CNAME":
        matches = [("CNAME", cname[0])]
    for kind, value in matches:
        text = _txt(value) if kind == "TXT" else value
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(kind), text)
        rrset = response.find_rrset(
            response.answer, question.name, dns.rdataclass.IN, rdata.rdtype, create=True
        )
        rrset.add(rdata, ttl=300)
    return response


class _Udp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        try:
            query = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - not DNS: nothing to answer
            return
        response = answer(query)
        if response is None:
            return
        wire = response.to_wire()
        if len(wire) > 512 and query.edns < 0:
            response.answer.clear()
            response.flags |= dns.flags.TC
            wire = response.to_wire()
        sock.sendto(wire, self.client_address)


class _Tcp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        try:
            while True:
                head = sock.recv(2)
                if len(head) < 2:
                    return
                (length,) = struct.unpack("!H", head)
                data = b""
                while len(data) < length:
                    chunk = sock.recv(length - len(data))
                    if not chunk:
                        return
                    data += chunk
                response = answer(dns.message.from_wire(data))
                if response is None:
                    return
                wire = response.to_wire()
                sock.sendall(struct.pack("!H", len(wire)) + wire)
        except (OSError, dns.exception.DNSException):
            return


class _ThreadedUdp(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True
    allow_reuse_address = True


class _ThreadedTcp(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class DnsService:
    """UDP and TCP on the same port (port 0: a free one, the same for both)."""

    def __init__(self, host: str, port: int) -> None:
        for _ in range(20):
            self.udp = _ThreadedUdp((host, port), _Udp)
            chosen = self.udp.server_address[1]
            try:
                self.tcp = _ThreadedTcp((host, chosen), _Tcp)
                break
            except OSError:
                self.udp.server_close()
                if port:
                    raise
        self.port = chosen
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for server, name in ((self.udp, "sandbox-dns-udp"), (self.tcp, "sandbox-dns-tcp")):
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.2}, name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for server in (self.udp, self.tcp):
            server.shutdown()
            server.server_close()


def zone_summary() -> dict[str, Any]:
    return {
        name: [f"{kind} {value[:80]}" for kind, value in records] for name, records in ZONE.items()
    }
