"""Self-signed TLS material generated at start, plus the RSA key that signs Google id_tokens.

msal refuses non-https authorities, so the sandbox serves the same handler on an HTTPS port whose
certificate is written to a PEM file the clients trust (``verify=<ca_file>``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TlsMaterial:
    cert_file: str  # the certificate: also the CA bundle clients pass as ``verify=``
    key_file: str
    cert_pem: bytes


def generate_self_signed(
    directory: str | os.PathLike[str] | None = None, *, host_names: tuple[str, ...] = ()
) -> TlsMaterial:
    """A certificate for 127.0.0.1 / localhost / ::1 (and `host_names`, the hosts the sandbox
    plays, such as an Exchange server's) that is its own CA (basicConstraints CA=True), so the
    same PEM works as ``verify=`` bundle for requests, msal and smtplib."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Mailroom sandbox")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    *(x509.DNSName(name) for name in host_names),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    target = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="mailroom-sandbox-"))
    target.mkdir(parents=True, exist_ok=True)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path = target / "ca.pem"
    key_path = target / "key.pem"
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    # Write then rename: a client reading ca.pem while the sandbox restarts never sees half a file.
    for path, data in ((key_path, key_pem), (cert_path, cert_pem)):
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    os.chmod(key_path, 0o600)
    return TlsMaterial(cert_file=str(cert_path), key_file=str(key_path), cert_pem=cert_pem)


class IdTokenSigner:
    """RS256 signer for Google-style id_tokens, with the public certificate served at
    ``/google/oauth2/v1/certs`` ({kid: PEM}) and the JWK at ``/google/oauth2/v3/certs``."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox-id-token-signer")])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .sign(self._key, hashes.SHA256())
        )
        self.kid = self._cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - an identifier only

    def sign(self, signing_input: bytes) -> bytes:
        return self._key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())

    def pem_certificates(self) -> dict[str, str]:
        return {self.kid: self._cert.public_bytes(serialization.Encoding.PEM).decode()}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": self.kid,
                    "n": _b64_uint(numbers.n),
                    "e": _b64_uint(numbers.e),
                }
            ]
        }


def _b64_uint(value: int) -> str:
    import base64

    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
