"""Tokens of the local Google-style server log in to the real mail servers: Dovecot (IMAP, POP3) and SMTP.

The servers validate them as JWTs with the keys the Google server publishes (its JWKS), the way they validate
the Entra ID mock's; a token for another user, or one the servers were not told to trust, is refused.
"""

from __future__ import annotations

import base64
import imaplib
import json
import poplib
import smtplib

import pytest
import requests

from devstack import Dovecot, SmtpServer
from devstack.certs import SERVER_HOSTNAME, TestCA
from devstack.google_oauth import GoogleOAuthServer
from sync.auth.google import GoogleServiceAccountTokens
from sync.auth.secrets import SecretBox
from sync.mail import egress
from tests.conftest import TEST_EGRESS
from tests.integration.oauth.conftest import gmail_profile, new_address, trust, with_service_account
from tests.integration.oauth.test_google_service_account import mailbox

pytestmark = pytest.mark.integration


def xoauth2(user: str, token: str) -> bytes:
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


@pytest.fixture(scope="module")
def tokens(
    google_oauth: GoogleOAuthServer,
    google_dovecot: Dovecot,
    google_smtp: SmtpServer,
    box: SecretBox,
    session: requests.Session,
) -> tuple[dict[str, str], str]:
    """Service-account tokens for two new mailboxes (``{address: token}``), and one of a third mailbox."""
    egress.configure(TEST_EGRESS)  # a module fixture runs before the per-test one that allows loopback
    account = google_oauth.grants.add_service_account("servers@p.iam.gserviceaccount.com")
    trust(google_oauth, google_dovecot, google_smtp, account.client_id)
    profile = gmail_profile(google_oauth)
    with_service_account(box, profile, account.key_file(google_oauth.token_url))
    source = GoogleServiceAccountTokens(box, session)
    issued = {}
    for _ in range(2):
        address = new_address()
        google_dovecot.add_user(address, "unused-password")
        issued[address] = source.token(mailbox(address), profile)
    stranger = google_oauth.grants.add_service_account("untrusted@p.iam.gserviceaccount.com")
    with_service_account(box, profile, stranger.key_file(google_oauth.token_url))
    return issued, GoogleServiceAccountTokens(box, session).token(mailbox(new_address()), profile)


def test_imap_and_pop3_take_the_token_of_their_user(
    tokens: tuple[dict[str, str], str], google_dovecot: Dovecot, test_ca: TestCA
) -> None:
    (address, token), (other, _) = tokens[0].items()
    context = test_ca.ssl_client_context()

    with imaplib.IMAP4_SSL(SERVER_HOSTNAME, google_dovecot.imaps_port, ssl_context=context) as imap:
        assert imap.authenticate("XOAUTH2", lambda _: xoauth2(address, token))[0] == "OK"
    pop = poplib.POP3_SSL(SERVER_HOSTNAME, google_dovecot.pop3s_port, context=context)
    try:
        answer = pop._shortcmd(  # type: ignore[attr-defined]  # poplib has no AUTH command of its own
            "AUTH XOAUTH2 " + base64.b64encode(xoauth2(address, token)).decode()
        )
        assert answer.startswith(b"+OK")
    finally:
        pop.quit()
    with (
        imaplib.IMAP4_SSL(SERVER_HOSTNAME, google_dovecot.imaps_port, ssl_context=context) as imap,
        pytest.raises(imaplib.IMAP4.error),  # the token names another user
    ):
        imap.authenticate("XOAUTH2", lambda _: xoauth2(other, token))


def test_submission_takes_the_token_of_its_user_only(
    tokens: tuple[dict[str, str], str], google_smtp: SmtpServer, test_ca: TestCA
) -> None:
    (address, token), _ = tokens[0].items()
    someone_elses = tokens[1]

    with smtplib.SMTP(SERVER_HOSTNAME, google_smtp.submission_port, timeout=10) as smtp:
        smtp.starttls(context=test_ca.ssl_client_context())
        smtp.ehlo()
        code, _ = smtp.docmd("AUTH", "XOAUTH2 " + base64.b64encode(xoauth2(address, token)).decode())
        assert code == 235
    with smtplib.SMTP(SERVER_HOSTNAME, google_smtp.submission_port, timeout=10) as smtp:
        smtp.starttls(context=test_ca.ssl_client_context())
        smtp.ehlo()
        code, challenge = smtp.docmd("AUTH", "XOAUTH2 " + base64.b64encode(xoauth2(address, someone_elses)).decode())
        assert code == 334 and json.loads(base64.b64decode(challenge))["status"] == "403"  # XOAUTH2: insufficient scope
        code, refusal = smtp.docmd("")
        assert code == 535 and b"user" in refusal
    assert ("XOAUTH2", address) in google_smtp.logins
