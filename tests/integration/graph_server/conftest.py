"""The thin Graph client against the Graph test server: a mailbox per test and a client holding MSAL tokens."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from devstack import TestCA
from sync.mail.graph.client import GraphClient
from tests.graph.server import GraphServer

ALICE = "alice@example.test"


def new_mime(subject: str = "hello", *, to: str = ALICE) -> tuple[bytes, str]:
    """A message with a unique Message-ID, returned with its angle brackets as Graph reports it."""
    message_id = f"<{uuid.uuid4().hex}@sync.test>"
    message = EmailMessage()
    message["From"] = "Bob <bob@example.test>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(f"Body of {subject}.\n")
    return message.as_bytes(), message_id


@pytest.fixture
def mailbox(graph_server: GraphServer) -> str:
    graph_server.add_mailbox(ALICE)
    return ALICE


@pytest.fixture
def client(graph_server: GraphServer, graph_token: Callable[[], str], test_ca: TestCA) -> GraphClient:
    return GraphClient(graph_token, base_url=graph_server.base_url, ca_file=str(test_ca.ca_cert))
