"""The project's typed error hierarchy.

Every error the service raises on purpose derives from :class:`SyncError`, so entry points can tell
expected failures (bad input, conflicts, mail-server trouble) from bugs. Messages never contain secrets.
"""

from __future__ import annotations


class SyncError(Exception):
    """Root of every error raised on purpose by this project."""


class ConfigurationError(SyncError):
    """The app settings are missing or invalid; the service cannot start."""


class ValidationFailed(SyncError):
    """Input broke a business rule (not a type error: pydantic reports those)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StoreError(SyncError):
    """Storage did not do what was asked."""


class StorageUnreachable(StoreError):
    """The storage endpoint did not answer (or refused the account): the service cannot start."""


class NotFound(StoreError):
    """The requested record does not exist."""


class AlreadyExists(StoreError):
    """An insert-if-absent found the key already taken."""


class ConcurrencyConflict(StoreError):
    """The record changed since it was read (ETag mismatch): re-read and retry."""


class EntityTooLarge(StoreError):
    """A record exceeds a Table Storage limit (64 KiB per string, 1 MiB per entity)."""


class SecretError(SyncError):
    """A secret could not be sealed or opened (wrong key, tampered or foreign ciphertext)."""
