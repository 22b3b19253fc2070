"""How Graph's refusals reach the caller: throttling with Retry-After, bad tokens, foreign links, dead servers."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack import TestCA
from devstack.entra import EntraMock
from sync.mail.errors import MailAuthenticationError, PermanentMailError, TransientMailError
from sync.mail.graph.client import GraphClient
from sync.mail.graph.errors import GraphThrottled, OutcomeUnknown
from tests.graph.server import GraphServer
from tests.integration.graph_server.conftest import new_mime

pytestmark = pytest.mark.integration


def forged(token: str) -> str:
    """The same claims and key id, signed by a key the tenant never published."""
    header = json.loads(base64.urlsafe_b64decode(token.split(".", maxsplit=1)[0] + "=="))
    claims = jwt.decode(token, options={"verify_signature": False})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": header["kid"]})


def test_429_with_retry_after_is_graph_throttled_and_the_client_does_not_wait(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    message_id = graph_server.deliver(mailbox, new_mime()[0])
    graph_server.fail_next("message.get", 429, retry_after_s=7)

    started = time.monotonic()
    with pytest.raises(GraphThrottled) as throttled:
        client.get(f"/users/{mailbox}/messages/{message_id}")

    assert time.monotonic() - started < 1.0
    assert throttled.value.retry_after_seconds == 7
    assert throttled.value.code == "ApplicationThrottled"
    assert isinstance(throttled.value, TransientMailError)
    assert client.get(f"/users/{mailbox}/messages/{message_id}")["id"] == message_id
    assert graph_server.calls["message.get"] == 2


def test_503_without_retry_after_is_throttled_with_no_hint(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    graph_server.fail_next("messages.delta", 503, retry_after_s=None)

    with pytest.raises(GraphThrottled) as throttled:
        client.get(f"/users/{mailbox}/mailFolders/inbox/messages/delta")

    assert throttled.value.requested_seconds is None


def test_a_throttled_post_is_not_outcome_unknown(graph_server: GraphServer, client: GraphClient, mailbox: str) -> None:
    graph_server.fail_next("sendMail", 429, retry_after_s=2)

    with pytest.raises(GraphThrottled):
        client.post_mime(f"/users/{mailbox}/sendMail", new_mime()[0])

    assert graph_server.sent_messages() == []


def test_a_forged_token_is_an_authentication_error_and_reaches_no_mailbox(
    graph_server: GraphServer, graph_token: Callable[[], str], test_ca: TestCA, mailbox: str
) -> None:
    genuine = graph_token()
    client = GraphClient(lambda: forged(genuine), base_url=graph_server.base_url, ca_file=str(test_ca.ca_cert))

    with pytest.raises(MailAuthenticationError) as refused:
        client.get(f"/users/{mailbox}/mailFolders/inbox/messages/delta")

    assert refused.value.code == "InvalidAuthenticationToken"
    assert "Signature verification failed" in str(refused.value)
    assert sum(graph_server.calls.values()) == 0


def test_a_token_for_another_api_is_an_authentication_error(
    graph_server: GraphServer, graph_entra: EntraMock, test_ca: TestCA, mailbox: str
) -> None:
    other = graph_entra.token(aud="api://sync-admin")
    client = GraphClient(lambda: other, base_url=graph_server.base_url, ca_file=str(test_ca.ca_cert))

    with pytest.raises(MailAuthenticationError) as refused:
        client.get(f"/users/{mailbox}/mailFolders/inbox")

    assert "audience" in str(refused.value).lower()


def test_an_unknown_mailbox_is_a_permanent_error(client: GraphClient) -> None:
    with pytest.raises(PermanentMailError) as refused:
        client.get("/users/nobody@example.test/mailFolders/inbox/messages/delta")

    assert refused.value.code == "ErrorInvalidUser"


def test_a_link_to_another_host_is_not_followed_with_our_token(client: GraphClient) -> None:
    with pytest.raises(PermanentMailError) as refused:
        client.get("https://graph.example.invalid/v1.0/users/a/messages/delta?$deltatoken=x")

    assert refused.value.code == "ForeignLink"


def test_a_server_that_does_not_trust_chain_is_a_permanent_tls_failure(
    graph_server: GraphServer, graph_token: Callable[[], str], mailbox: str
) -> None:
    system_trust_only = GraphClient(graph_token, base_url=graph_server.base_url)

    with pytest.raises(PermanentMailError) as refused:
        system_trust_only.get(f"/users/{mailbox}/mailFolders/inbox")

    assert refused.value.code == "SecureConnectionFailed"


def test_a_server_that_is_down_is_transient_even_for_a_post(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    graph_server.stop()

    with pytest.raises(TransientMailError) as down:
        client.post_mime(f"/users/{mailbox}/sendMail", new_mime()[0])

    assert down.value.code == "ConnectionFailed"
    assert not isinstance(down.value, OutcomeUnknown)  # nothing reached a server, so resending is safe
