"""API keys: only digests are configured, ':reader' keys read only, and a wrong key says so."""

from __future__ import annotations

import hashlib

import pytest
from fastapi import HTTPException

from sync.api.auth import (
    ADMIN_ROLE,
    APPROVER_ROLE,
    EXCHANGE_ADMINISTRATOR,
    GLOBAL_ADMINISTRATOR,
    READER_ROLE,
    Authenticator,
    Principal,
    key_digest,
    new_api_key,
)
from sync.errors import ConfigurationError
from sync.settings import Settings, load_settings

KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def settings(**overrides: object) -> Settings:
    return load_settings(storage_connection_string="UseDevelopmentStorage=true", secret_encryption_key=KEY, **overrides)


def test_a_new_key_comes_with_its_sha256_digest() -> None:
    key, digest = new_api_key()
    assert len(key) >= 40 and digest == hashlib.sha256(key.encode()).hexdigest() == key_digest(key)


def test_admin_and_reader_keys() -> None:
    admin, admin_digest = new_api_key()
    reader, reader_digest = new_api_key()
    auth = Authenticator(settings(api_keys=f"{admin_digest}, {reader_digest}:reader"))
    assert auth.from_api_key(admin).roles == {ADMIN_ROLE, READER_ROLE}
    assert auth.from_api_key(reader).roles == {READER_ROLE}
    assert auth.from_api_key(admin).id == f"api-key:{admin_digest[:12]}"


def test_r_sec_2_approving_is_a_key_role_of_its_own() -> None:
    approver, approver_digest = new_api_key()
    both, both_digest = new_api_key()
    auth = Authenticator(settings(api_keys=f"{approver_digest}:approver,{both_digest}:admin+approver"))
    assert auth.from_api_key(approver).roles == {APPROVER_ROLE, READER_ROLE}
    assert auth.from_api_key(both).roles == {ADMIN_ROLE, APPROVER_ROLE, READER_ROLE}
    assert not auth.from_api_key(approver).is_admin and auth.from_api_key(both).is_approver


def test_r_app_2_only_global_or_exchange_administrators_approve_for_microsoft_365() -> None:
    def principal(*wids: str) -> Principal:
        return Principal("p", frozenset({APPROVER_ROLE}), "entra", directory_roles=frozenset(wids))

    assert principal(GLOBAL_ADMINISTRATOR).is_exchange_administrator
    assert principal(EXCHANGE_ADMINISTRATOR).is_exchange_administrator
    assert not principal("fe930be7-5e62-47db-91af-98c3a49a38b1").is_exchange_administrator  # User Administrator
    assert not principal().is_exchange_administrator


def test_a_wrong_key_is_401() -> None:
    auth = Authenticator(settings(api_keys=new_api_key()[1]))
    with pytest.raises(HTTPException) as raised:
        auth.from_api_key("guess")
    assert raised.value.status_code == 401


def test_no_keys_configured_refuses_every_key() -> None:
    with pytest.raises(HTTPException):
        Authenticator(settings()).from_api_key("anything")


def test_bearer_without_entra_settings_is_401() -> None:
    with pytest.raises(HTTPException) as raised:
        Authenticator(settings()).from_bearer("a.b.c")
    assert "not configured" in str(raised.value.detail)


def test_principal_roles() -> None:
    assert Principal("p", frozenset({READER_ROLE}), "entra").can_read
    assert not Principal("p", frozenset({READER_ROLE}), "entra").is_admin
    assert not Principal("p", frozenset(), "entra").can_read


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"api_keys": "not-a-digest"}, "SYNC_API_KEYS"),
        ({"api_keys": "a" * 64 + ":writer"}, "SYNC_API_KEYS"),
        ({"api_authority": "http://localhost:1"}, "SYNC_API_AUTHORITY"),
        ({"api_tenant_id": "t"}, "settings"),
    ],
)
def test_bad_auth_settings_fail_at_start_up(overrides: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        settings(**overrides)


def test_auth_settings_are_optional() -> None:
    plain = settings()
    assert plain.api_keys is None and plain.api_tenant_id is None and plain.api_authority is None
