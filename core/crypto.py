"""Secrets at rest: tokens and passwords are stored Fernet-encrypted.

MultiFernet encrypts with the first key of MAILROOM_ENCRYPTION_KEYS and decrypts with any of
them, so a key can be rotated by prepending the new one."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "MAILROOM_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes)"
        ) from exc


def _current() -> MultiFernet:
    return _fernet(tuple(settings.MAILROOM_ENCRYPTION_KEYS))


def encrypt_secret(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt_secret(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "stored secret cannot be decrypted with the configured keys"
        ) from exc
