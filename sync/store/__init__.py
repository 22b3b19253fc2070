"""Table, Blob and Queue adapters: repositories, key design, indexes and batching."""

from sync.store.account import RequestCounter, StorageAccount
from sync.store.repository import Op, Page, Repository
from sync.store.store import Store

__all__ = ["Op", "Page", "Repository", "RequestCounter", "StorageAccount", "Store"]
