"""The server side of NTLM (MS-NLMP) over HTTP, as IIS does it in front of Exchange Web Services:
NEGOTIATE -> CHALLENGE -> AUTHENTICATE, and the NTLMv2 response checked against the user's
password (NTProofStr), plus the MIC when the client sent one.

Enough of the protocol for what clients send today (requests_ntlm / pyspnego, Windows, curl):
NTLMv2 only. An NTLMv1 / LM-only response, an anonymous AUTHENTICATE or a malformed message is
refused. Channel bindings (CBT) and the timestamp skew are not checked. Stdlib + cryptography only
(OpenSSL 3 no longer offers MD4, so it is here).
"""

from __future__ import annotations

import hmac
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

SIGNATURE = b"NTLMSSP\x00"

NEGOTIATE_UNICODE = 0x00000001
NEGOTIATE_OEM = 0x00000002
REQUEST_TARGET = 0x00000004
NEGOTIATE_SIGN = 0x00000010
NEGOTIATE_SEAL = 0x00000020
NEGOTIATE_NTLM = 0x00000200
NEGOTIATE_ALWAYS_SIGN = 0x00008000
TARGET_TYPE_DOMAIN = 0x00010000
NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
NEGOTIATE_TARGET_INFO = 0x00800000
NEGOTIATE_VERSION = 0x02000000
NEGOTIATE_128 = 0x20000000
NEGOTIATE_KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000
# What this acceptor agrees to when the client asks for it.
ECHOED_FLAGS = (
    NEGOTIATE_UNICODE
    | NEGOTIATE_SIGN
    | NEGOTIATE_SEAL
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_VERSION
    | NEGOTIATE_128
    | NEGOTIATE_KEY_EXCH
    | NEGOTIATE_56
)

AV_EOL, AV_NB_COMPUTER, AV_NB_DOMAIN, AV_DNS_COMPUTER, AV_DNS_DOMAIN = 0, 1, 2, 3, 4
AV_FLAGS, AV_TIMESTAMP = 6, 7
AV_FLAG_MIC_PRESENT = 0x2
# Windows Server 2016, build 14393, NTLM revision 15.
SERVER_VERSION = struct.pack("<BBH3xB", 10, 0, 14393, 15)
FILETIME_EPOCH_OFFSET = 116444736000000000  # 100 ns intervals from 1601 to 1970


class NtlmError(Exception):
    """A message that is not NTLM, or a response that does not prove the password."""


# --- MD4 (RFC 1320) -------------------------------------------------------------------------
def _rotl(value: int, shift: int) -> int:
    value &= 0xFFFFFFFF
    return ((value << shift) | (value >> (32 - shift))) & 0xFFFFFFFF


def md4(data: bytes) -> bytes:
    length_bits = (len(data) * 8) & 0xFFFFFFFFFFFFFFFF
    data += b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", length_bits)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for offset in range(0, len(data), 64):
        x = struct.unpack("<16I", data[offset : offset + 64])
        aa, bb, cc, dd = a, b, c, d

        def f(x_, y, z):
            return (x_ & y) | (~x_ & z)

        def g(x_, y, z):
            return (x_ & y) | (x_ & z) | (y & z)

        def h(x_, y, z):
            return x_ ^ y ^ z

        for i in (0, 4, 8, 12):
            a = _rotl(a + f(b, c, d) + x[i], 3)
            d = _rotl(d + f(a, b, c) + x[i + 1], 7)
            c = _rotl(c + f(d, a, b) + x[i + 2], 11)
            b = _rotl(b + f(c, d, a) + x[i + 3], 19)
        for i in (0, 1, 2, 3):
            a = _rotl(a + g(b, c, d) + x[i] + 0x5A827999, 3)
            d = _rotl(d + g(a, b, c) + x[i + 4] + 0x5A827999, 5)
            c = _rotl(c + g(d, a, b) + x[i + 8] + 0x5A827999, 9)
            b = _rotl(b + g(c, d, a) + x[i + 12] + 0x5A827999, 13)
        for i in (0, 2, 1, 3):
            a = _rotl(a + h(b, c, d) + x[i] + 0x6ED9EBA1, 3)
            d = _rotl(d + h(a, b, c) + x[i + 8] + 0x6ED9EBA1, 9)
            c = _rotl(c + h(d, a, b) + x[i + 4] + 0x6ED9EBA1, 11)
            b = _rotl(b + h(c, d, a) + x[i + 12] + 0x6ED9EBA1, 15)
        a, b, c, d = (
            (a + aa) & 0xFFFFFFFF,
            (b + bb) & 0xFFFFFFFF,
            (c + cc) & 0xFFFFFFFF,
            (d + dd) & 0xFFFFFFFF,
        )
    return struct.pack("<4I", a, b, c, d)


def nt_hash(password: str) -> bytes:
    return md4(password.encode("utf-16-le"))


def _hmac_md5(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, "md5").digest()


def _rc4(key: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
    from cryptography.hazmat.primitives.ciphers import Cipher

    return Cipher(ARC4(key), mode=None).encryptor().update(data)


# --- messages -------------------------------------------------------------------------------
def _field(message: bytes, offset: int) -> bytes:
    if len(message) < offset + 8:
        raise NtlmError("truncated NTLM message")
    length, _max_length, start = struct.unpack_from("<HHI", message, offset)
    if start + length > len(message):
        raise NtlmError("NTLM field points outside the message")
    return message[start : start + length]


def message_type(message: bytes) -> int:
    if len(message) < 12 or not message.startswith(SIGNATURE):
        raise NtlmError("not an NTLMSSP message")
    return struct.unpack_from("<I", message, 8)[0]


def _av_pairs(pairs: list[tuple[int, bytes]]) -> bytes:
    out = b"".join(struct.pack("<HH", av_id, len(value)) + value for av_id, value in pairs)
    return out + struct.pack("<HH", AV_EOL, 0)


def _parse_av_pairs(data: bytes) -> dict[int, bytes]:
    pairs, offset = {}, 0
    while offset + 4 <= len(data):
        av_id, length = struct.unpack_from("<HH", data, offset)
        offset += 4
        if av_id == AV_EOL:
            break
        pairs[av_id] = data[offset : offset + length]
        offset += length
    return pairs


@dataclass
class Challenge:
    """What the server remembers on the connection between CHALLENGE and AUTHENTICATE."""

    negotiate: bytes
    message: bytes
    server_challenge: bytes
    flags: int


def challenge(
    negotiate: bytes, *, netbios_domain: str, netbios_computer: str, dns_domain: str
) -> Challenge:
    if message_type(negotiate) != 1 or len(negotiate) < 16:
        raise NtlmError("expected an NTLM NEGOTIATE message")
    client_flags = struct.unpack_from("<I", negotiate, 12)[0]
    flags = (
        (client_flags & ECHOED_FLAGS)
        | REQUEST_TARGET
        | NEGOTIATE_NTLM
        | NEGOTIATE_ALWAYS_SIGN
        | TARGET_TYPE_DOMAIN
        | NEGOTIATE_TARGET_INFO
    )
    if not flags & NEGOTIATE_UNICODE:
        flags |= NEGOTIATE_OEM
    encoding = "utf-16-le" if flags & NEGOTIATE_UNICODE else "ascii"
    target_name = netbios_domain.encode(encoding)
    filetime = int(time.time() * 10_000_000) + FILETIME_EPOCH_OFFSET

    def utf16(text: str) -> bytes:
        return text.encode("utf-16-le")

    target_info = _av_pairs(
        [
            (AV_NB_DOMAIN, utf16(netbios_domain)),
            (AV_NB_COMPUTER, utf16(netbios_computer)),
            (AV_DNS_DOMAIN, utf16(dns_domain)),
            (AV_DNS_COMPUTER, utf16(f"{netbios_computer.lower()}.{dns_domain}")),
            (AV_TIMESTAMP, struct.pack("<Q", filetime)),
        ]
    )
    server_challenge = os.urandom(8)
    header_length = 56
    message = (
        SIGNATURE
        + struct.pack("<I", 2)
        + struct.pack("<HHI", len(target_name), len(target_name), header_length)
        + struct.pack("<I", flags)
        + server_challenge
        + b"\x00" * 8
        + struct.pack("<HHI", len(target_info), len(target_info), header_length + len(target_name))
        + SERVER_VERSION
        + target_name
        + target_info
    )
    return Challenge(
        negotiate=negotiate, message=message, server_challenge=server_challenge, flags=flags
    )


@dataclass(frozen=True)
class Identity:
    domain: str
    user: str

    @property
    def login(self) -> str:
        """DOMAIN\\user, or the bare user name (a UPN such as rep@acme.test) without a domain."""
        return f"{self.domain}\\{self.user}" if self.domain else self.user


def authenticate(
    message: bytes, state: Challenge, password_for: Callable[[Identity], str | None]
) -> Identity:
    """Check an AUTHENTICATE message against the password of the user it names. Returns who
    logged in; raises NtlmError when the response does not prove that password."""
    if message_type(message) != 3 or len(message) < 64:
        raise NtlmError("expected an NTLM AUTHENTICATE message")
    flags = struct.unpack_from("<I", message, 60)[0]
    encoding = "utf-16-le" if flags & NEGOTIATE_UNICODE else "latin-1"
    try:
        identity = Identity(
            domain=_field(message, 28).decode(encoding),
            user=_field(message, 36).decode(encoding),
        )
    except UnicodeDecodeError as exc:
        raise NtlmError("undecodable user name") from exc
    nt_response = _field(message, 20)
    if not identity.user:
        raise NtlmError("anonymous NTLM logins are not accepted")
    if len(nt_response) <= 24:
        raise NtlmError("only NTLMv2 responses are accepted")
    password = password_for(identity)
    if password is None:
        raise NtlmError(f"unknown user {identity.login!r}")
    response_key = _hmac_md5(
        nt_hash(password), (identity.user.upper() + identity.domain).encode("utf-16-le")
    )
    proof, blob = nt_response[:16], nt_response[16:]
    expected = _hmac_md5(response_key, state.server_challenge + blob)
    if not hmac.compare_digest(proof, expected):
        raise NtlmError(f"wrong password for {identity.login!r}")
    # The blob: RespType, HiRespType, 6 reserved, Timestamp(8), ClientChallenge(8), 4 reserved,
    # then the AV pairs the client echoed (with its own MsvAvFlags).
    client_pairs = _parse_av_pairs(blob[28:])
    av_flags = client_pairs.get(AV_FLAGS, b"\x00\x00\x00\x00")
    if len(av_flags) == 4 and struct.unpack("<I", av_flags)[0] & AV_FLAG_MIC_PRESENT:
        _check_mic(message, state, flags, _hmac_md5(response_key, proof))
    return identity


def _check_mic(message: bytes, state: Challenge, flags: int, session_base_key: bytes) -> None:
    if len(message) < 88:
        raise NtlmError("MIC announced but missing")
    exported_key = session_base_key
    encrypted_key = _field(message, 52)
    if flags & NEGOTIATE_KEY_EXCH and encrypted_key:
        exported_key = _rc4(session_base_key, encrypted_key)
    mic = message[72:88]
    zeroed = message[:72] + b"\x00" * 16 + message[88:]
    expected = _hmac_md5(exported_key, state.negotiate + state.message + zeroed)
    if not hmac.compare_digest(mic, expected):
        raise NtlmError("message integrity code (MIC) does not match")
