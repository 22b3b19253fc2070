"""Clients for the storage account: Tables, Queues and Blobs, from a connection string or an identity.

Every client shares one :class:`RequestCounter`, so benchmarks and tests can count storage
transactions per email or per scheduler tick without guessing.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import (
    QueueClient,
    QueueServiceClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)
from requests.adapters import HTTPAdapter

from sync.errors import StorageUnreachable
from sync.settings import Settings
from sync.store.names import Container, Queue, Table, container_name, queue_name, table_name

REACHABILITY_TIMEOUT_S = 10.0  # a live account answers in milliseconds; a firewalled one never does
_OS_ERROR = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")


def short_reason(exc: Exception) -> str:
    """The OS error inside an SDK connection error (``[Errno 111] Connection refused``), else its first line."""
    text = str(exc)
    found = _OS_ERROR.search(text)
    if found:
        return found.group(0).strip()
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


class RequestCounter:
    """Counts HTTP requests per storage service ("table", "queue", "blob")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, service: str) -> None:
        with self._lock:
            self.counts[service] += 1

    def total(self, *services: str) -> int:
        """Requests so far to the named services (all services when none is named)."""
        with self._lock:
            return sum(v for k, v in self.counts.items() if not services or k in services)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    def hook(self, service: str) -> Callable[[PipelineRequest[Any]], None]:
        """A ``raw_request_hook`` for an SDK client: every SDK (Tables too) calls it per request."""

        def count(_request: PipelineRequest[Any]) -> None:
            self.add(service)

        return count


HTTP_POOL_SIZE = 32  # concurrent handlers and scheduler claims share one client per service


def _transport() -> RequestsTransport:
    """A transport whose connection pool fits the process's concurrency (requests' default keeps 10)."""
    session = requests.Session()
    session.trust_env = False  # else every request looks up netrc, proxies and CA bundles in the environment
    adapter = HTTPAdapter(pool_connections=HTTP_POOL_SIZE, pool_maxsize=HTTP_POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return RequestsTransport(session=session, session_owner=True, use_env_settings=False)


class StorageAccount:
    """The three storage services of one account, with the deployment's name prefix applied."""

    def __init__(self, settings: Settings, counter: RequestCounter | None = None) -> None:
        self.prefix = settings.storage_prefix
        self.counter = counter or RequestCounter()

        def policies(service: str) -> dict[str, Any]:
            # No proxy/CA lookups in the environment on every request: they cost a third of a Table call.
            return {
                "raw_request_hook": self.counter.hook(service),
                "transport": _transport(),
            }

        if settings.storage_connection_string is not None:
            conn = settings.storage_connection_string.get_secret_value()
            self.tables = TableServiceClient.from_connection_string(conn, **policies("table"))
            self.queues = QueueServiceClient.from_connection_string(conn, **policies("queue"))
            self.blobs = BlobServiceClient.from_connection_string(conn, **policies("blob"))
        else:
            from azure.identity import DefaultAzureCredential  # noqa: PLC0415 (only needed in Azure)

            credential = DefaultAzureCredential()
            name = settings.storage_account_name
            self.tables = TableServiceClient(
                f"https://{name}.table.core.windows.net", credential=credential, **policies("table")
            )
            self.queues = QueueServiceClient(
                f"https://{name}.queue.core.windows.net", credential=credential, **policies("queue")
            )
            self.blobs = BlobServiceClient(
                f"https://{name}.blob.core.windows.net", credential=credential, **policies("blob")
            )

    def table(self, table: Table) -> TableClient:
        return self.tables.get_table_client(table_name(self.prefix, table))

    def queue(self, queue: Queue) -> QueueClient:
        """A queue client using base64 messages, the Functions host's default encoding."""
        return self.queues.get_queue_client(
            queue_name(self.prefix, queue),
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
        )

    def container(self, container: Container) -> ContainerClient:
        return self.blobs.get_container_client(container_name(self.prefix, container))

    def ensure_created(self) -> None:
        """Create every table, queue and container the service uses (idempotent)."""
        from azure.core.exceptions import ResourceExistsError  # noqa: PLC0415

        for table in Table:
            self.tables.create_table_if_not_exists(table_name(self.prefix, table))
        for queue in Queue:
            with contextlib.suppress(ResourceExistsError):
                self.queue(queue).create_queue()
        for container in Container:
            with contextlib.suppress(ResourceExistsError):
                self.container(container).create_container()

    def check_reachable(self, timeout_s: float = REACHABILITY_TIMEOUT_S) -> None:
        """One request without retries before a long-running start: a dead endpoint becomes one line naming it."""
        from azure.core.exceptions import AzureError  # noqa: PLC0415

        endpoint = self.tables.url.rstrip("/")
        try:
            pages = self.tables.list_tables(
                results_per_page=1, retry_total=0, connection_timeout=timeout_s, read_timeout=timeout_s
            ).by_page()
            next(iter(pages), None)
        except AzureError as exc:
            raise StorageUnreachable(
                f"storage is unreachable at {endpoint} ({short_reason(exc)}); check AzureWebJobsStorage, and that "
                "the storage emulator runs (`make dev` starts Azurite)"
            ) from None

    def ping(self) -> None:
        """One cheap request, no retries, that proves Table storage answers (the health probe must be quick)."""
        pages = self.tables.list_tables(results_per_page=1, retry_total=0).by_page()
        next(iter(pages), None)
