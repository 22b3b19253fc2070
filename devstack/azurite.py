"""Azurite (Azure Table/Queue/Blob emulator from npm) on free loopback ports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self

from devstack import process
from devstack.errors import MissingDependencyError
from devstack.ports import LOOPBACK, free_ports, wait_for_port

REPO_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite"
ACCOUNT_NAME = "devstoreaccount1"
# The well-known development key every Azure SDK and Azurite ship with; not a secret.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STARTUP_TIMEOUT_S = 30.0  # normally ~0.5 s; Node start is slow on a loaded 2-core runner
FIXED_FLAGS = (
    "--silent",  # no access log
    "--loose",  # ignore unsupported headers instead of failing the request
    "--disableTelemetry",  # it would try to reach applicationinsights.azure.com
    "--skipApiVersionCheck",  # current SDKs send API versions newer than Azurite knows
)


class Azurite:
    """One Azurite process; ``connection_string`` is valid between ``start()`` and ``stop()``.

    Runs ``node_modules/.bin/azurite`` directly, not through ``npx``, so the pid we hold
    is the server's own and ``stop()`` reliably ends it.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        in_memory: bool = True,
        host: str = LOOPBACK,
        binary: Path = AZURITE_BIN,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        self.work_dir = work_dir
        self.in_memory = in_memory
        self.host = host
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.data_dir = work_dir / "data"
        self.log_path = work_dir / "azurite.log"
        self.blob_port, self.queue_port, self.table_port = free_ports(3, host)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def blob_endpoint(self) -> str:
        return self._endpoint(self.blob_port)

    @property
    def queue_endpoint(self) -> str:
        return self._endpoint(self.queue_port)

    @property
    def table_endpoint(self) -> str:
        return self._endpoint(self.table_port)

    @property
    def connection_string(self) -> str:
        """Explicit form: ``UseDevelopmentStorage=true`` only works on the default ports."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};QueueEndpoint={self.queue_endpoint};"
            f"TableEndpoint={self.table_endpoint};"
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> Self:
        """Start the server and wait until all three ports accept connections."""
        if self._process is not None:
            return self
        if not self.binary.exists():
            raise MissingDependencyError(f"Azurite not found at {self.binary}; run `make setup` (npm install) first")
        if shutil.which("node") is None:
            raise MissingDependencyError("`node` is not on PATH; Azurite needs Node.js")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._process = process.spawn(self._argv(), cwd=self.work_dir, log_path=self.log_path)
        try:
            for name, port in (
                ("blob", self.blob_port),
                ("queue", self.queue_port),
                ("table", self.table_port),
            ):
                wait_for_port(
                    self.host,
                    port,
                    self.startup_timeout,
                    service=f"Azurite ({name})",
                    process=self._process,
                    logs=[self.log_path],
                )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Kill the server and wait for it; safe to call twice or after a failed start."""
        if self._process is not None:
            process.stop(self._process)
            self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _argv(self) -> list[str]:
        if self.in_memory:
            storage = ["--inMemoryPersistence"]
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            storage = ["--location", str(self.data_dir)]
        return [
            str(self.binary), *FIXED_FLAGS, *storage,
            "--blobHost", self.host, "--blobPort", str(self.blob_port),
            "--queueHost", self.host, "--queuePort", str(self.queue_port),
            "--tableHost", self.host, "--tablePort", str(self.table_port),
        ]  # fmt: skip

    def _endpoint(self, port: int) -> str:
        return f"http://{self.host}:{port}/{ACCOUNT_NAME}"
