"""The "consent" token source: refresh tokens redeemed, rotated (stored before use) and revoked, for real.

Consent is completed through the API first (the local server rotates every refresh token it redeems, as
Microsoft's do); then the source is used as a worker would use it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from fastapi.testclient import TestClient

from devstack.certs import TestCA
from devstack.google_oauth import GoogleOAuthServer
from sync.auth.consent_store import FIELD
from sync.auth.consent_tokens import ConsentTokens
from sync.auth.oauth_endpoint import ConsentRevoked
from sync.auth.secrets import SecretBox, open_field
from sync.mail.errors import MailAuthenticationError
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import utcnow
from sync.services import Services
from sync.settings import Settings
from sync.store import Store
from tests.integration.oauth.test_consent import CLIENT_SECRET, new_mailbox, oauth_profile, sign_in

pytestmark = pytest.mark.integration


@pytest.fixture
def consented(
    isolated_store: Store,
    box: SecretBox,
    google_oauth: GoogleOAuthServer,
    admin: TestClient,
    anonymous: TestClient,
    test_ca: TestCA,
) -> tuple[EmailServerProfile, str, str]:
    profile = oauth_profile(isolated_store, box, google_oauth)
    mailbox_id, address = new_mailbox(admin, profile)
    callback = sign_in(admin.post(f"/api/mailboxes/{mailbox_id}/oauth-consent").json()["authorize_url"], test_ca)
    assert anonymous.get(callback).status_code == 200
    return profile, mailbox_id, address


def stored_refresh_token(store: Store, box: SecretBox, mailbox_id: str) -> str | None:
    return open_field(box, store.get_mailbox(mailbox_id), FIELD)


def test_a_redeemed_refresh_token_is_rotated_and_the_new_one_stored_first(
    consented: tuple[EmailServerProfile, str, str],
    isolated_store: Store,
    box: SecretBox,
    session: requests.Session,
    google_oauth: GoogleOAuthServer,
) -> None:
    profile, mailbox_id, address = consented
    first_refresh = stored_refresh_token(isolated_store, box, mailbox_id)
    source = ConsentTokens(isolated_store, box, session)
    mailbox = isolated_store.get_mailbox(mailbox_id)

    token = source.token(mailbox, profile)

    rotated = stored_refresh_token(isolated_store, box, mailbox_id)
    assert rotated and rotated != first_refresh
    assert google_oauth.grants.live_refresh_tokens(address) == 1  # the old one no longer works
    assert source.token(mailbox, profile) == token  # cached until it nears expiry
    assert stored_refresh_token(isolated_store, box, mailbox_id) == rotated


def test_a_worker_holding_a_stale_mailbox_redeems_the_current_refresh_token(
    consented: tuple[EmailServerProfile, str, str],
    isolated_store: Store,
    box: SecretBox,
    session: requests.Session,
) -> None:
    profile, mailbox_id, _ = consented
    stale = isolated_store.get_mailbox(mailbox_id)  # what the second worker's cycle started with
    ConsentTokens(isolated_store, box, session).token(stale, profile)  # the first worker rotates

    token = ConsentTokens(isolated_store, box, session).token(stale, profile)

    assert token


def test_an_aging_token_is_refreshed_and_a_refused_one_on_request(
    consented: tuple[EmailServerProfile, str, str],
    isolated_store: Store,
    box: SecretBox,
    session: requests.Session,
) -> None:
    profile, mailbox_id, _ = consented
    now = [utcnow()]
    source = ConsentTokens(isolated_store, box, session, clock=lambda: now[0])
    mailbox = isolated_store.get_mailbox(mailbox_id)
    first = source.token(mailbox, profile)

    forced = source.token(mailbox, profile, force_refresh=True)
    now[0] += timedelta(minutes=51)
    aged = source.token(mailbox, profile)

    assert len({first, forced, aged}) == 3


def test_a_revoked_consent_is_a_credentials_failure_that_shows_no_token(
    consented: tuple[EmailServerProfile, str, str],
    isolated_store: Store,
    box: SecretBox,
    session: requests.Session,
    google_oauth: GoogleOAuthServer,
) -> None:
    profile, mailbox_id, address = consented
    refresh_token = stored_refresh_token(isolated_store, box, mailbox_id)
    assert refresh_token and google_oauth.grants.revoke_subject(address) == 1  # the user removed the app's access
    source = ConsentTokens(isolated_store, box, session)

    with pytest.raises(ConsentRevoked) as revoked:
        source.token(isolated_store.get_mailbox(mailbox_id), profile)

    assert isinstance(revoked.value, MailAuthenticationError)
    assert revoked.value.code == "OAuthConsentRevoked"
    assert "consent again" in str(revoked.value)
    assert refresh_token not in str(revoked.value) and CLIENT_SECRET not in str(revoked.value)


def test_a_consent_for_another_profile_or_endpoint_is_not_sent(
    consented: tuple[EmailServerProfile, str, str],
    isolated_store: Store,
    box: SecretBox,
    session: requests.Session,
    google_oauth: GoogleOAuthServer,
) -> None:
    profile, mailbox_id, _ = consented
    elsewhere = profile.model_copy(update={"oauth_token_endpoint": google_oauth.issuer + "/elsewhere/token"})
    before = dict(google_oauth.grants.grants)

    with pytest.raises(MailAuthenticationError) as refused:
        ConsentTokens(isolated_store, box, session).token(isolated_store.get_mailbox(mailbox_id), elsewhere)

    assert refused.value.code == "OAuthConsentRequired"
    assert google_oauth.grants.grants == before


def test_the_services_serve_a_consented_mailbox_from_its_consent(
    consented: tuple[EmailServerProfile, str, str], oauth_settings: Settings, isolated_store: Store, box: SecretBox
) -> None:
    profile, mailbox_id, _ = consented
    before = stored_refresh_token(isolated_store, box, mailbox_id)

    token = Services(oauth_settings, isolated_store).mail_tokens.token(isolated_store.get_mailbox(mailbox_id), profile)

    assert token and stored_refresh_token(isolated_store, box, mailbox_id) != before  # redeemed (and rotated)


class RotatedMeanwhile(ConsentTokens):
    """A worker whose redemption comes just after another worker rotated the refresh token it had read."""

    def __init__(self, other: ConsentTokens, store: Store, box: SecretBox, session: requests.Session) -> None:
        super().__init__(store, box, session)
        self.other: ConsentTokens | None = other

    def _redeem(self, mailbox: Mailbox, profile: EmailServerProfile, refresh_token: str) -> str:
        if self.other is not None:
            other, self.other = self.other, None
            other.token(mailbox, profile)  # the other worker redeems (and rotates) the same token first
        return super()._redeem(mailbox, profile, refresh_token)


def test_the_loser_of_a_rotation_race_redeems_the_winners_token_instead_of_calling_it_revoked(
    consented: tuple[EmailServerProfile, str, str],
    isolated_store: Store,
    box: SecretBox,
    session: requests.Session,
    google_oauth: GoogleOAuthServer,
) -> None:
    profile, mailbox_id, address = consented
    winner = ConsentTokens(isolated_store, box, session)
    loser = RotatedMeanwhile(winner, isolated_store, box, session)

    token = loser.token(isolated_store.get_mailbox(mailbox_id), profile)

    assert token
    assert google_oauth.grants.live_refresh_tokens(address) == 1
    redeemed_again = ConsentTokens(isolated_store, box, session).token(isolated_store.get_mailbox(mailbox_id), profile)
    assert redeemed_again  # what is stored is the live one
