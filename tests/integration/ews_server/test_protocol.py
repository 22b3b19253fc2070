"""The wire format, Basic authentication and injected failures, as exchangelib sees them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import requests
from exchangelib import Account, Message
from exchangelib.errors import (
    ErrorInvalidOperation,
    ErrorNonExistentMailbox,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    MalformedResponseError,
    UnauthorizedError,
)

from devstack import TestCA
from tests.ews.fixtures import EWS_PASSWORD
from tests.ews.server import EwsServer
from tests.ews.soap import NAMESPACES
from tests.integration.ews_server.conftest import ALICE, BOB, mime

pytestmark = pytest.mark.integration

GET_FOLDERS = b"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
    xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>
  <s:Body>
    <m:GetFolder>
      <m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>
      <m:FolderIds><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="archiveinbox"/></m:FolderIds>
    </m:GetFolder>
  </s:Body>
</s:Envelope>"""


def test_responses_have_the_exchange_envelope(ews_server: EwsServer, test_ca: TestCA) -> None:
    http = requests.Session()
    http.trust_env = False
    reply = http.post(ews_server.url, data=GET_FOLDERS, auth=(ALICE, EWS_PASSWORD), verify=str(test_ca.ca_cert))
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(reply.content)
    version = root.find("s:Header/t:ServerVersionInfo", NAMESPACES)
    assert version is not None and version.get("MajorVersion") == "15"
    found, missing = root.findall("s:Body/m:GetFolderResponse/m:ResponseMessages/*", NAMESPACES)
    assert found.tag == f"{{{NAMESPACES['m']}}}GetFolderResponseMessage"
    assert found.get("ResponseClass") == "Success"
    assert found.findtext("m:ResponseCode", namespaces=NAMESPACES) == "NoError"
    assert found.findtext("m:Folders/t:Folder/t:DisplayName", namespaces=NAMESPACES) == "Inbox"
    assert found.findtext("m:Folders/t:Folder/t:UnreadCount", namespaces=NAMESPACES) == "0"
    assert missing.get("ResponseClass") == "Error"
    assert [child.tag.rpartition("}")[2] for child in missing] == ["MessageText", "ResponseCode", "DescriptiveLinkKey"]
    assert missing.findtext("m:ResponseCode", namespaces=NAMESPACES) == "ErrorFolderNotFound"
    assert ews_server.calls.log[-1].mailbox == ALICE  # no Mailbox element: the Basic user's own


def test_a_request_without_credentials_is_challenged(ews_server: EwsServer, test_ca: TestCA) -> None:
    http = requests.Session()
    http.trust_env = False
    reply = http.post(ews_server.url, data=GET_FOLDERS, verify=str(test_ca.ca_cert))
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"].startswith("Basic")
    assert ews_server.calls.total() == 0


def test_server_busy_is_a_fault_with_the_back_off(alice: Account, ews_server: EwsServer) -> None:
    item_id = ews_server.deliver(ALICE, mime("m"))
    ews_server.fail_next("GetItem", busy_back_off_ms=1500)
    with pytest.raises(ErrorServerBusy) as raised:
        list(alice.fetch([(item_id, None)], only_fields=["subject"]))
    assert raised.value.back_off == 1.5
    [item] = alice.fetch([(item_id, None)], only_fields=["subject"])  # only the next request failed
    assert item.subject == "Message m"
    assert ews_server.calls["GetItem"] == 2


def test_a_wrong_password_is_unauthorized(ews_account: Callable[..., Account], ews_server: EwsServer) -> None:
    with pytest.raises(UnauthorizedError):
        ews_account(ALICE, password="wrong").root  # noqa: B018 (the property sends GetFolder)
    assert ews_server.calls.total() == 0


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, UnauthorizedError), (403, MalformedResponseError), (500, MalformedResponseError), (503, ErrorServerBusy)],
)
def test_injected_http_statuses(alice: Account, ews_server: EwsServer, status: int, error: type[Exception]) -> None:
    ews_server.fail_next("GetFolder", http_status=status, count=2)
    for _ in range(2):
        with pytest.raises(error):
            alice.root  # noqa: B018
    assert alice.root.name == "Root"


def test_a_lost_reply_after_the_send_was_carried_out(alice: Account, ews_server: EwsServer) -> None:
    alice.sent  # noqa: B018 (resolve the folder first: only the CreateItem reply is lost)
    ews_server.drop_connection_next("CreateItem")
    with pytest.raises(ErrorTimeoutExpired):
        Message(account=alice, folder=alice.sent, mime_content=mime("x", to=BOB)).send_and_save()
    assert len(ews_server.sent_messages) == 1  # a retry would send it twice
    assert [i.message_id for i in ews_server.items(BOB, "inbox")] == ["<x@example.test>"]


def test_an_unknown_operation_is_a_fault_naming_it(alice: Account) -> None:
    with pytest.raises(ErrorInvalidOperation, match="ResolveNames"):
        alice.protocol.resolve_names(["bob"])


def test_an_unknown_mailbox(ews_account: Callable[..., Account], ews_server: EwsServer) -> None:
    nobody = ews_account("nobody@example.test", username=ALICE)
    with pytest.raises(ErrorNonExistentMailbox):
        nobody.root  # noqa: B018
    assert ews_server.calls.log[-1].anchor_mailbox == "nobody@example.test"


def test_impersonation_picks_the_mailbox(ews_account: Callable[..., Account], ews_server: EwsServer) -> None:
    ews_server.deliver(BOB, mime("for-bob", to=BOB))
    bob = ews_account(BOB, username=ALICE)  # Alice's login, impersonating Bob
    assert [item.subject for item in bob.inbox.all().only("subject")] == ["Message for-bob"]
    assert {call.mailbox for call in ews_server.calls.log} == {BOB}
    ews_server.reset_calls()
    assert ews_server.calls.total() == 0 and ews_server.calls.log == []
