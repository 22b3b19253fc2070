"""``local.settings.json``: the app settings of the local service, in the Azure Functions Core Tools format.

``make dev`` writes it and reuses it on the next run: the encryption key must stay the same, or the
passwords stored in the (persistent) local storage can no longer be opened. Each run mints a new admin
API key; its digest replaces the previous run's in ``SYNC_API_KEYS`` and digests added by hand stay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sync.auth.secrets import new_key

DEV_CADENCE = {"SYNC_POLL_IDLE_MAX_MINUTES": "1", "SYNC_POLL_CYCLES_PER_HOUR": "0"}  # 0: no poll budget
DEV_DIGEST = "DEVSTACK_API_KEY_DIGEST"  # which SYNC_API_KEYS entry this tool minted (to replace it next time)


def read_values(path: Path) -> dict[str, str]:
    """The ``Values`` of an existing file, or nothing."""
    if not path.exists():
        return {}
    document: dict[str, Any] = json.loads(path.read_text())
    return {str(k): str(v) for k, v in (document.get("Values") or {}).items()}


def dev_values(
    existing: Mapping[str, str], *, connection_string: str, ca_file: str, api_key_digest: str
) -> dict[str, str]:
    """The settings for this run: the kept key and hand-made entries, this run's endpoints and API key."""
    values = dict(existing)
    values["FUNCTIONS_WORKER_RUNTIME"] = "python"
    values["AzureWebJobsStorage"] = connection_string
    values.pop("AzureWebJobsStorage__accountName", None)
    values.setdefault("SYNC_SECRET_ENCRYPTION_KEY", new_key())
    values["SYNC_EXTRA_CA_FILE"] = ca_file
    values["SYNC_ALLOW_LOOPBACK_MAIL_HOSTS"] = "true"  # the local mail servers listen on 127.0.0.1
    # every dev mailbox polled each minute, so a message delivered to it is tracked within a minute; production
    # polls idle mailboxes less and keeps Dynamics' 12 cycles an hour. Values set by hand stay.
    for name, value in DEV_CADENCE.items():
        values.setdefault(name, value)
    previous = existing.get(DEV_DIGEST)
    kept = [
        entry.strip()
        for entry in existing.get("SYNC_API_KEYS", "").split(",")
        if entry.strip() and entry.strip().partition(":")[0] != previous
    ]
    values["SYNC_API_KEYS"] = ",".join([f"{api_key_digest}:admin+approver", *kept])  # the dev key approves too
    values[DEV_DIGEST] = api_key_digest
    return values


def write(path: Path, values: Mapping[str, str], *, api_port: int) -> None:
    """Write the file readable by its owner only: it holds the encryption key."""
    document = {"IsEncrypted": False, "Values": dict(values), "Host": {"LocalHttpPort": api_port}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
