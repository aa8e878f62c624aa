from django.db import models

from .crypto import decrypt_secret, encrypt_secret


class EncryptedTextField(models.TextField):
    """A text column that holds ciphertext in the database and plaintext in Python.

    Empty strings stay empty so "no secret set" needs no decryption."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt_secret(value)

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt_secret(value)
