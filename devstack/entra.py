"""A Microsoft Entra ID stand-in (oauth2-mock-server from npm behind ``entra-mock.mjs``) over HTTPS.

It publishes the tenant's OpenID metadata and signing keys at Entra's paths and issues RS256 access tokens
through the client-credentials grant, so token validation is tested against a real issuer and real keys.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from devstack import process
from devstack.certs import TestCA
from devstack.errors import MissingDependencyError
from devstack.ports import LOOPBACK, free_port, wait_for_port

REPO_ROOT = Path(__file__).resolve().parent.parent
WRAPPER = Path(__file__).resolve().parent / "entra-mock.mjs"
PACKAGE = REPO_ROOT / "node_modules" / "oauth2-mock-server"
CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"  # the mock's only client; not a real secret
STARTUP_TIMEOUT_S = 30.0


class EntraMock:
    """One mock tenant; ``authority`` is valid between ``start()`` and ``stop()``."""

    def __init__(self, work_dir: Path, ca: TestCA, tenant: str = "tenant1") -> None:
        self.work_dir = work_dir
        self.ca = ca
        self.tenant = tenant
        self.port = free_port()
        self.log_path = work_dir / "entra-mock.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def authority(self) -> str:
        return f"https://localhost:{self.port}"

    def start(self) -> Self:
        if self._process is not None:
            return self
        if not PACKAGE.exists():
            raise MissingDependencyError(f"oauth2-mock-server not found at {PACKAGE}; run `make setup` (npm ci)")
        node = shutil.which("node")
        if node is None:
            raise MissingDependencyError("`node` is not on PATH; the Entra ID mock needs Node.js")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        argv = [node, str(WRAPPER), str(self.port), self.tenant, str(self.ca.server_cert), str(self.ca.server_key)]
        self._process = process.spawn(argv, cwd=REPO_ROOT, log_path=self.log_path)
        try:
            wait_for_port(
                LOOPBACK,
                self.port,
                STARTUP_TIMEOUT_S,
                service="Entra ID mock",
                process=self._process,
                logs=[self.log_path],
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is not None:
            process.stop(self._process)
            self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def jwks(self) -> dict[str, Any]:
        """The tenant's signing keys as published (``discovery/v2.0/keys``): what a resource server trusts."""
        context = ssl.create_default_context(cafile=str(self.ca.ca_cert))
        url = f"{self.authority}/{self.tenant}/discovery/v2.0/keys"
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            document: dict[str, Any] = json.load(response)
        return document

    def token(self, **claims: Any) -> str:
        """An access token from the client-credentials grant; ``claims`` shape it (aud, roles, exp_offset, iss)."""
        form = {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": "api://sync-admin/.default",
        }
        form.update({k: ",".join(v) if isinstance(v, (list, tuple)) else str(v) for k, v in claims.items()})
        request = urllib.request.Request(
            f"{self.authority}/{self.tenant}/oauth2/v2.0/token", data=urllib.parse.urlencode(form).encode()
        )
        context = ssl.create_default_context(cafile=str(self.ca.ca_cert))
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return str(json.load(response)["access_token"])
