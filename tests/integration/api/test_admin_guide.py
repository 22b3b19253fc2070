"""docs/admin-guide.md runs: every request of the guide, in order, against the admin API on the local stack.

The guide's requests are fenced ``http`` blocks (method and path, then a JSON body); an HTML comment before a
block may name its answer (``save=alice``), the status it expects (``expect=201``, default 200) and a field of
the answer to check (``then=succeeded:true``). Values in braces (``{alice.default_mailbox_id}``) come from saved
answers. The guide's example hosts, ports, addresses and passwords are swapped for the local servers' here, so
the page reads like a real tenant and still fails the build when the API changes under it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devstack import Dovecot, SmtpServer
from sync.api.app import create_app
from sync.api.readable import choices
from sync.model.options import (
    AccessMode,
    ActDeliveryMethod,
    AlertLevel,
    AuthenticationProtocol,
    CredentialRetrieval,
    EmailAddressApproval,
    EmailConnectionChannel,
    ExchangeApi,
    FilteringMethod,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    ServerType,
    StateCode,
    TestStatus,
)
from sync.model.profile import TlsMode
from sync.settings import Settings
from sync.store import Store
from tests.integration.api.conftest import ADMIN
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "admin-guide.md"
BLOCK = re.compile(r"(?:<!-- guide:(?P<options>[^>]*)-->\n)?```http\n(?P<request>.*?)```", re.S)
PLACEHOLDER = re.compile(r"\{([a-z_]+)((?:\.[A-Za-z0-9_]+)+)\}")
OPTION_SETS = (
    ServerType,
    ExchangeApi,
    TlsMode,
    AuthenticationProtocol,
    CredentialRetrieval,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    ActDeliveryMethod,
    FilteringMethod,
    EmailAddressApproval,
    TestStatus,
    StateCode,
    AccessMode,
    AlertLevel,
    EmailConnectionChannel,
)


@dataclass
class Step:
    method: str
    path: str
    body: Any
    save: str | None = None
    expect: int = 200
    then: dict[str, Any] = field(default_factory=dict)


def steps(text: str, local: dict[str, str]) -> list[Step]:
    """The guide's requests in order, with its example values swapped for ``local`` ones."""
    found = []
    for match in BLOCK.finditer(text):
        request = match.group("request")
        for example, value in local.items():
            request = request.replace(example, value)
        head, _, body = request.partition("\n")
        method, path = head.split(" ", 1)
        options = dict(part.split("=", 1) for part in (match.group("options") or "").split())
        then = {}
        if "then" in options:
            key, _, value = options["then"].partition(":")
            then[key] = json.loads(value) if value in ("true", "false") or value.isdigit() else value
        found.append(
            Step(
                method,
                path.strip(),
                json.loads(body) if body.strip() else None,
                options.get("save"),
                int(options.get("expect", 200)),
                then,
            )
        )
    return found


def fill(text: str, saved: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        found: Any = saved[match.group(1)]
        for part in match.group(2).strip(".").split("."):
            found = found[int(part)] if isinstance(found, list) else found[part]
        return str(found)

    return PLACEHOLDER.sub(value, text)


def option_table() -> str:
    rows = [f"| {enum.__name__} | {choices(enum)} |" for enum in OPTION_SETS]
    return "\n".join(["| option set | names = values |", "|---|---|", *rows])


@pytest.fixture
def guide_client(api_settings: Settings) -> Iterator[TestClient]:
    """An admin app on tables of its own: the guide changes the organization's settings."""
    own = api_settings.model_copy(update={"storage_prefix": "g" + uuid.uuid4().hex[:8]})
    store = Store.from_settings(own)
    store.account.ensure_created()
    with TestClient(create_app(own, lambda: store), headers=ADMIN) as client:
        yield client


def test_every_request_of_the_guide_answers_as_it_says(
    guide_client: TestClient, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    alice, support = (f"{name}-{uuid.uuid4().hex[:8]}@example.test" for name in ("alice", "support"))
    dovecot.add_user(alice, MAIL_PASSWORD)
    smtp_server.add_user(alice, MAIL_PASSWORD)
    local = {
        "imap.contoso.com": "localhost",
        "smtp.contoso.com": "localhost",
        '"incoming_port": 993': f'"incoming_port": {dovecot.imaps_port}',
        '"outgoing_port": 587': f'"outgoing_port": {smtp_server.submission_port}',
        "alice@contoso.com": alice,
        "support@contoso.com": support,
        "Alice's mail password": MAIL_PASSWORD,
    }
    saved: dict[str, Any] = {}
    ran = steps(GUIDE.read_text(), local)
    assert len(ran) >= 15
    for step in ran:
        path = fill(step.path, saved)
        body = json.loads(fill(json.dumps(step.body), saved)) if step.body is not None else None
        answer = guide_client.request(step.method, path, json=body)
        assert answer.status_code == step.expect, f"{step.method} {path}: {answer.status_code} {answer.text[:400]}"
        for key, expected in step.then.items():
            assert answer.json()[key] == expected, f"{step.method} {path}: {key} is {answer.json()[key]!r}"
        if step.save:
            saved[step.save] = answer.json()


def test_the_guides_option_table_is_the_apis() -> None:
    text = GUIDE.read_text()
    table = text.split("<!-- options:start -->\n", 1)[1].split("\n<!-- options:end -->", 1)[0]
    assert table == option_table(), f"replace the table in docs/admin-guide.md with:\n{option_table()}"


def test_the_guide_covers_what_an_administrator_needs() -> None:
    ran = steps(GUIDE.read_text(), {})
    routes = {f"{step.method} {step.path.split('?')[0]}" for step in ran}
    for needed in (
        "POST /api/profiles",
        "PATCH /api/organization",
        "POST /api/users",
        "POST /api/queues",
        "POST /api/mailboxes/{alice.default_mailbox_id}/approve",
        "PATCH /api/mailboxes/{alice.default_mailbox_id}",
        "POST /api/mailboxes/{alice.default_mailbox_id}/test-and-enable",
        "GET /api/mailboxes/{alice.default_mailbox_id}/health",
        "GET /api/summary",
        "GET /api/alerts",
        "POST /api/mailboxes/{alice.default_mailbox_id}/check-incoming",
        "POST /api/mailboxes/{alice.default_mailbox_id}/sync",
    ):
        assert needed in routes
    server_types = {step.body.get("server_type") for step in ran if isinstance(step.body, dict)}
    assert {"imap_smtp", "exchange_online", "exchange_server"} <= server_types
