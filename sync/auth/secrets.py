"""Seal and open secrets with AES-256-GCM, bound to the record and field they belong to.

A sealed value is ``aesgcm1:`` + base64(nonce ‖ ciphertext ‖ tag). The record's table, id and field
name are the associated data, so a ciphertext copied onto another record or field does not open.
Plaintext exists only in memory, in the caller that needs it for a connection.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sync.errors import SecretError
from sync.model.base import Entity
from sync.model.fields import SEALED_PREFIX, SealedSecret

NONCE_BYTES = 12  # the GCM standard nonce; random per seal


def new_key() -> str:
    """A fresh base64 AES-256 key for the ``SYNC_SECRET_ENCRYPTION_KEY`` setting."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def secret_context(table: str, record_id: str, field: str) -> bytes:
    """The associated data that binds a sealed secret to one field of one record."""
    return f"{table}\x1f{record_id}\x1f{field}".encode()


class SecretBox:
    """Encrypts and decrypts secrets with the deployment's key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SecretError("the secret encryption key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(key=***)"

    def seal(self, plaintext: str, context: bytes) -> SealedSecret:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context)
        return SealedSecret(SEALED_PREFIX + base64.b64encode(nonce + ciphertext).decode("ascii"))

    def open(self, sealed: str, context: bytes) -> str:
        if not sealed.startswith(SEALED_PREFIX):
            raise SecretError("not a sealed secret")
        try:
            blob = base64.b64decode(sealed[len(SEALED_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise SecretError("sealed secret is not valid base64") from None
        nonce, ciphertext = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, ciphertext, context).decode("utf-8")
        except InvalidTag:
            raise SecretError("secret does not open: wrong key, or it belongs to another record or field") from None


def seal_field(box: SecretBox, entity: Entity, field: str, plaintext: str | None) -> None:
    """Set ``entity.<field>`` to ``plaintext`` sealed for that record and field (None clears it)."""
    value = None if plaintext is None else box.seal(plaintext, secret_context(type(entity).__name__, entity.id, field))
    setattr(entity, field, value)


def open_field(box: SecretBox, entity: Entity, field: str) -> str | None:
    """The plaintext of ``entity.<field>``, for the connection that needs it; None when not set."""
    sealed = getattr(entity, field)
    if sealed is None:
        return None
    return box.open(sealed, secret_context(type(entity).__name__, entity.id, field))
