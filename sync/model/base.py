"""The base of every stored entity: id, audit times, version and the ETag of the stored copy."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from sync.model.fields import Str36, new_id, utcnow


class Entity(BaseModel):
    """A record kept in Table Storage. ``etag`` is set by the store when the entity is read or written."""

    model_config = ConfigDict(
        validate_assignment=True, extra="ignore", use_enum_values=False, use_attribute_docstrings=True
    )  # a field's docstring is its description in the admin API's OpenAPI document

    id: Str36 = Field(default_factory=new_id)
    """The record's id (a GUID unless given on create)."""
    created_on: datetime = Field(default_factory=utcnow)
    """When the record was created (UTC)."""
    modified_on: datetime = Field(default_factory=utcnow)
    """When the record was last changed (UTC)."""
    version_number: int = 0
    """Rises with every change (Dataverse versionnumber)."""

    _etag: str | None = PrivateAttr(default=None)

    @property
    def etag(self) -> str | None:
        """The ETag of the stored copy this object was read from (None if never stored)."""
        return self._etag

    def with_etag(self, etag: str | None) -> None:
        """Remember the stored copy's ETag; only the store calls this."""
        self._etag = etag
