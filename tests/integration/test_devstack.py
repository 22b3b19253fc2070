"""The dev stack itself: each server really speaks its protocol, with real TLS.

Every test talks to a real process (Azurite, Dovecot, aiosmtpd) through the same client
libraries the app uses, and checks something that would fail if the stack were wrong.
"""

from __future__ import annotations

import imaplib
import os
import poplib
import re
import smtplib
import socket
import ssl
import tempfile
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from devstack import Azurite, Dovecot, LocalStack, MailServer, Mailutils, MissingDependencyError, SmtpServer, TestCA
from devstack.certs import SERVER_HOSTNAME
from devstack.ports import free_port, free_ports, port_is_open
from tests.stack_fixtures import MAIL_PASSWORD, MAIL_USERS, REJECT_DOMAIN, MailUser

pytestmark = pytest.mark.integration

SENDER = next(iter(MAIL_USERS))
UIDL_LINE = re.compile(rb"^1 [0-9a-f]{16}$")  # pop3_uidl_format = %08Xu%08Xv


def make_message(to: str, *, sender: str = SENDER) -> tuple[EmailMessage, str]:
    message_id = f"{uuid.uuid4().hex}@devstack.test"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"devstack {message_id}"
    message["Message-ID"] = f"<{message_id}>"
    message.set_content(f"body of {message_id}\n")
    return message, message_id


def imap_fetch_all(server: MailServer, ca: TestCA, user: MailUser) -> list[bytes]:
    """Every message in the user's INBOX, read over implicit TLS (IMAPS)."""
    with imaplib.IMAP4_SSL(SERVER_HOSTNAME, server.imaps_port, ssl_context=ca.ssl_client_context()) as imap:
        imap.login(user.address, user.password)
        imap.select("INBOX", readonly=True)
        _, data = imap.search(None, "ALL")
        bodies = []
        for number in data[0].split():
            _, parts = imap.fetch(number.decode(), "(BODY.PEEK[])")
            assert isinstance(parts[0], tuple)
            bodies.append(parts[0][1])
        return bodies


# --- Azurite -------------------------------------------------------------------------


def test_azurite_table_round_trip(azurite: Azurite) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    table = service.create_table(f"t{uuid.uuid4().hex}")
    table.create_entity({"PartitionKey": "p", "RowKey": "r1", "subject": "hello", "size": 42})

    entity = table.get_entity("p", "r1")

    assert (entity["subject"], entity["size"]) == ("hello", 42)
    with pytest.raises(ResourceExistsError):
        table.create_entity({"PartitionKey": "p", "RowKey": "r1"})


def test_azurite_queue_send_receive(azurite: Azurite) -> None:
    queue = QueueClient.from_connection_string(azurite.connection_string, f"q{uuid.uuid4().hex}")
    queue.create_queue()
    queue.send_message("sync mailbox 7")

    received = list(queue.receive_messages(visibility_timeout=30))

    assert [m.content for m in received] == ["sync mailbox 7"]
    queue.delete_message(received[0])
    assert list(queue.receive_messages()) == []


def test_azurite_blob_round_trip(azurite: Azurite) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container(f"c{uuid.uuid4().hex}")
    container.upload_blob("raw.eml", b"Subject: x\r\n\r\nbody\r\n")

    assert container.download_blob("raw.eml").readall() == b"Subject: x\r\n\r\nbody\r\n"


def test_azurite_missing_binary_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(MissingDependencyError, match="make setup"):
        Azurite(tmp_path, binary=tmp_path / "no-azurite").start()


# --- Dovecot -------------------------------------------------------------------------


def test_lmtp_delivery_is_readable_over_imaps(dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser) -> None:
    message, message_id = make_message(mail_user.address)
    dovecot.deliver(mail_user.address, message.as_bytes())

    bodies = imap_fetch_all(dovecot, test_ca, mail_user)

    assert len(bodies) == 1
    assert f"Message-ID: <{message_id}>".encode() in bodies[0]
    assert f"body of {message_id}".encode() in bodies[0]


def test_lmtp_delivery_is_readable_over_pop3_stls(dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser) -> None:
    message, message_id = make_message(mail_user.address)
    dovecot.deliver(mail_user.address, message.as_bytes())

    pop = poplib.POP3(SERVER_HOSTNAME, dovecot.pop3_port, timeout=10)
    try:
        pop.stls(context=test_ca.ssl_client_context())
        pop.user(mail_user.address)
        pop.pass_(mail_user.password)
        count, _ = pop.stat()
        _, uidl_lines, _ = pop.uidl()
        _, lines, _ = pop.retr(1)
    finally:
        pop.quit()

    assert count == 1
    assert len(uidl_lines) == 1 and UIDL_LINE.match(uidl_lines[0]), uidl_lines
    assert f"Message-ID: <{message_id}>".encode() in lines


def test_imap_starttls_upgrades_and_logs_in(dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser) -> None:
    with imaplib.IMAP4(SERVER_HOSTNAME, dovecot.imap_port, timeout=10) as imap:
        assert "STARTTLS" in imap.capabilities
        imap.starttls(ssl_context=test_ca.ssl_client_context())
        assert isinstance(imap.sock, ssl.SSLSocket)
        status, _ = imap.login(mail_user.address, mail_user.password)

    assert status == "OK"


def test_tls_is_verified_against_the_test_ca_only(dovecot: Dovecot, test_ca: TestCA) -> None:
    """The system CAs alone must not accept the server: proves we verify a real chain."""
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(SERVER_HOSTNAME, dovecot.imaps_port, ssl_context=ssl.create_default_context())
    bundle = test_ca.combined_bundle(test_ca.directory / "combined.pem")
    assert bundle.read_bytes().rstrip().endswith(test_ca.ca_cert.read_bytes().rstrip())
    with imaplib.IMAP4_SSL(
        SERVER_HOSTNAME, dovecot.imaps_port, ssl_context=ssl.create_default_context(cafile=str(bundle))
    ) as imap:
        assert imap.state == "NONAUTH"


def test_dovecot_rejects_wrong_password(dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser) -> None:
    # The only bad-password test against Dovecot: each failure costs ~0.5 s (anvil penalty).
    with (
        imaplib.IMAP4_SSL(SERVER_HOSTNAME, dovecot.imaps_port, ssl_context=test_ca.ssl_client_context()) as imap,
        pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"),
    ):
        imap.login(mail_user.address, "wrong-password")


def test_lmtp_refuses_unknown_user(dovecot: Dovecot) -> None:
    message, _ = make_message("nobody@example.test")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        dovecot.deliver("nobody@example.test", message.as_bytes())
    assert refused.value.recipients["nobody@example.test"][0] == 550


def test_dovecot_restarts_in_same_dir_after_stop(stack_dir: Path, test_ca: TestCA) -> None:
    """stop() waits until the old master is gone, else: "Dovecot is already running"."""
    work_dir = Path(tempfile.mkdtemp(dir=stack_dir))
    user = MailUser("restart@example.test", MAIL_PASSWORD)
    server = Dovecot(work_dir, test_ca, {user.address: user.password})
    try:
        server.start()
        first_pid = server.pid
        server.stop()
        assert first_pid is not None and not _pid_alive(first_pid)
        assert not port_is_open(server.host, server.imaps_port)
        server.start()
        server.deliver(user.address, make_message(user.address)[0].as_bytes())
        assert len(imap_fetch_all(server, test_ca, user)) == 1  # maildir survived the restart
    finally:
        server.stop()


# --- GNU Mailutils -------------------------------------------------------------------


def test_mailutils_serves_a_user_added_while_running_over_imaps_and_pop3_stls(
    mailutils: Mailutils, test_ca: TestCA
) -> None:
    user = MailUser(f"mu-{uuid.uuid4().hex[:8]}@example.test", MAIL_PASSWORD)
    mailutils.add_user(user.address, user.password)
    message, message_id = make_message(user.address)
    mailutils.deliver(user.address, message.as_bytes())

    bodies = imap_fetch_all(mailutils, test_ca, user)
    pop = poplib.POP3(SERVER_HOSTNAME, mailutils.pop3_port, timeout=10)
    try:
        pop.stls(test_ca.ssl_client_context())
        pop.user(user.address)
        pop.pass_(user.password)
        count, _ = pop.stat()
    finally:
        pop.quit()

    assert len(bodies) == 1 and f"<{message_id}>".encode() in bodies[0]
    assert count == 1


def test_mailutils_stop_leaves_no_process_and_keeps_the_mail(stack_dir: Path, test_ca: TestCA) -> None:
    work_dir = Path(tempfile.mkdtemp(dir=stack_dir))
    user = MailUser("restart@example.test", MAIL_PASSWORD)
    server = Mailutils(work_dir, test_ca, {user.address: user.password})
    try:
        server.start()
        pids = server.pids
        server.deliver(user.address, make_message(user.address)[0].as_bytes())
        server.stop()
        assert pids and not any(_pid_alive(pid) for pid in pids)
        assert not port_is_open(server.host, server.imaps_port) and not port_is_open(server.host, server.pop3_port)
        server.start()
        assert len(imap_fetch_all(server, test_ca, user)) == 1  # the mbox survived
    finally:
        server.stop()


# --- SMTP ----------------------------------------------------------------------------


def test_smtp_starttls_auth_send_is_recorded_once(smtp_server: SmtpServer, test_ca: TestCA) -> None:
    recipient = "someone@elsewhere.test"
    message, message_id = make_message(recipient)
    with smtplib.SMTP(SERVER_HOSTNAME, smtp_server.submission_port, timeout=10) as smtp:
        smtp.starttls(context=test_ca.ssl_client_context())
        smtp.login(SENDER, MAIL_PASSWORD)
        smtp.send_message(message, from_addr=SENDER, to_addrs=[recipient])

    assert smtp_server.count_by_message_id(f"<{message_id}>") == 1
    [received] = smtp_server.by_message_id(message_id)
    assert (received.mail_from, received.rcpt_tos) == (SENDER, (recipient,))
    assert (received.login, received.tls, received.port) == (SENDER, True, smtp_server.submission_port)
    assert received.relayed_to == ()  # unknown to Dovecot: accepted, not delivered locally


def test_smtp_refuses_auth_and_mail_before_starttls(smtp_server: SmtpServer) -> None:
    with smtplib.SMTP(SERVER_HOSTNAME, smtp_server.submission_port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert not smtp.has_extn("auth")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            smtp.login(SENDER, MAIL_PASSWORD)
        code, _ = smtp.mail(SENDER)
    assert code == 530


def test_smtp_wrong_password_gives_535(smtp_server: SmtpServer, test_ca: TestCA) -> None:
    with smtplib.SMTP(SERVER_HOSTNAME, smtp_server.submission_port, timeout=10) as smtp:
        smtp.starttls(context=test_ca.ssl_client_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
            smtp.login(SENDER, "wrong-password")
    assert failed.value.smtp_code == 535


def test_smtp_implicit_tls_port(smtp_server: SmtpServer, test_ca: TestCA) -> None:
    message, message_id = make_message("someone@elsewhere.test")
    with smtplib.SMTP_SSL(
        SERVER_HOSTNAME, smtp_server.smtps_port, context=test_ca.ssl_client_context(), timeout=10
    ) as smtp:
        smtp.login(SENDER, MAIL_PASSWORD)
        smtp.send_message(message)

    [received] = smtp_server.by_message_id(message_id)
    assert (received.login, received.tls, received.port) == (SENDER, True, smtp_server.smtps_port)


def test_smtp_rejects_recipient_domain(smtp_server: SmtpServer, test_ca: TestCA) -> None:
    recipient = f"x@{REJECT_DOMAIN}"
    message, message_id = make_message(recipient)
    with smtplib.SMTP(SERVER_HOSTNAME, smtp_server.submission_port, timeout=10) as smtp:
        smtp.starttls(context=test_ca.ssl_client_context())
        smtp.login(SENDER, MAIL_PASSWORD)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.send_message(message)

    assert refused.value.recipients[recipient][0] == 550
    assert smtp_server.count_by_message_id(message_id) == 0


def test_smtp_relays_into_dovecot_mailbox(
    smtp_server: SmtpServer, dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser
) -> None:
    message, message_id = make_message(mail_user.address)
    with smtplib.SMTP(SERVER_HOSTNAME, smtp_server.submission_port, timeout=10) as smtp:
        smtp.starttls(context=test_ca.ssl_client_context())
        smtp.login(SENDER, MAIL_PASSWORD)
        smtp.send_message(message)

    [received] = smtp_server.by_message_id(message_id)
    assert received.relayed_to == (mail_user.address,)
    bodies = imap_fetch_all(dovecot, test_ca, mail_user)
    assert len(bodies) == 1 and f"<{message_id}>".encode() in bodies[0]


# --- LocalStack ----------------------------------------------------------------------


def test_local_stack_stops_everything_even_on_error() -> None:
    class BoomError(Exception):
        pass

    with pytest.raises(BoomError), LocalStack() as stack:
        pids = [stack.azurite.pid, stack.dovecot.pid]
        endpoints = [
            ("127.0.0.1", stack.azurite.table_port),
            (stack.dovecot.host, stack.dovecot.imaps_port),
            (stack.smtp.host, stack.smtp.submission_port),
        ]
        work_dir = stack.work_dir
        assert all(port_is_open(host, port) for host, port in endpoints)
        assert stack.endpoints()["AzureWebJobsStorage"] == stack.azurite.connection_string
        raise BoomError

    assert all(pid is not None and not _pid_alive(pid) for pid in pids)
    assert not any(port_is_open(host, port) for host, port in endpoints)
    assert not work_dir.exists()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
