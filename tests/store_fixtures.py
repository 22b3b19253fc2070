"""pytest plugin: settings and a Store on the session's Azurite, with a per-session name prefix."""

from __future__ import annotations

import uuid

import pytest

from devstack import Azurite
from sync.auth.secrets import SecretBox, new_key
from sync.settings import Settings, load_settings
from sync.store import Store


@pytest.fixture(scope="session")
def settings(azurite: Azurite) -> Settings:
    """Settings pointing at Azurite; a fresh prefix keeps this session's tables apart from others'."""
    return load_settings(
        storage_connection_string=azurite.connection_string,
        secret_encryption_key=new_key(),
        storage_prefix="t" + uuid.uuid4().hex[:8],
        allow_loopback_mail_hosts=True,  # every test server listens on 127.0.0.1
    )


@pytest.fixture(scope="session")
def store(settings: Settings) -> Store:
    store = Store.from_settings(settings)
    store.account.ensure_created()
    return store


@pytest.fixture(scope="session")
def secret_box(settings: Settings) -> SecretBox:
    return SecretBox(settings.aes_key())


@pytest.fixture(scope="module")
def isolated_store(azurite: Azurite, settings: Settings) -> Store:
    """A store with its own tables, for tests that scan a whole table (the due index, the scheduler)."""
    own = settings.model_copy(update={"storage_prefix": "i" + uuid.uuid4().hex[:8]})
    store = Store.from_settings(own)
    store.account.ensure_created()
    return store
