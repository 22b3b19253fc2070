"""Bytes in Blob storage: raw MIME, bodies, attachments, quarantined messages.

Tables keep a :class:`~sync.model.email.BlobRef`; blobs are written before the row that points at
them, so a stored row never points at nothing.
"""

from __future__ import annotations

import contextlib

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContentSettings

from sync.errors import NotFound
from sync.model.email import BlobRef
from sync.store.account import StorageAccount
from sync.store.names import Container


class BlobStore:
    def __init__(self, account: StorageAccount) -> None:
        self.account = account

    def put(
        self, container: Container, name: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> BlobRef:
        client = self.account.container(container).get_blob_client(name)
        client.upload_blob(data, overwrite=True, content_settings=ContentSettings(content_type=content_type))
        return BlobRef(container=container.value, name=name, size=len(data), content_type=content_type)

    def get(self, ref: BlobRef) -> bytes:
        client = self.account.container(Container(ref.container)).get_blob_client(ref.name)
        try:
            return client.download_blob().readall()
        except ResourceNotFoundError:
            raise NotFound(f"blob {ref.container}/{ref.name} not found") from None

    def delete(self, ref: BlobRef) -> None:
        client = self.account.container(Container(ref.container)).get_blob_client(ref.name)
        with contextlib.suppress(ResourceNotFoundError):
            client.delete_blob()
