import base64

import pytest

from sync.auth.secrets import SecretBox, new_key, open_field, seal_field, secret_context
from sync.errors import SecretError
from sync.model import Mailbox
from sync.model.fields import EntityRef
from sync.model.options import EntityType

KEY = b"\x01" * 32


def _mailbox() -> Mailbox:
    return Mailbox(
        name="Alice",
        email_address="alice@example.test",
        owner=EntityRef(type=EntityType.SYSTEM_USER, id="u1"),
    )


def test_seal_then_open_round_trips() -> None:
    box = SecretBox(KEY)
    sealed = box.seal("p@ss wörd", b"ctx")
    assert "p@ss" not in sealed
    assert box.open(sealed, b"ctx") == "p@ss wörd"


def test_each_seal_is_different() -> None:
    box = SecretBox(KEY)
    assert box.seal("same", b"ctx") != box.seal("same", b"ctx")


def test_wrong_key_does_not_open() -> None:
    sealed = SecretBox(KEY).seal("secret", b"ctx")
    with pytest.raises(SecretError, match="does not open"):
        SecretBox(b"\x02" * 32).open(sealed, b"ctx")


def test_ciphertext_moved_to_another_record_does_not_open() -> None:
    box = SecretBox(KEY)
    sealed = box.seal("secret", secret_context("Mailbox", "a", "password"))
    with pytest.raises(SecretError):
        box.open(sealed, secret_context("Mailbox", "b", "password"))


def test_tampered_ciphertext_is_refused() -> None:
    box = SecretBox(KEY)
    sealed = box.seal("secret", b"ctx")
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(SecretError):
        box.open(tampered, b"ctx")


def test_garbage_is_refused_clearly() -> None:
    with pytest.raises(SecretError, match="not a sealed secret"):
        SecretBox(KEY).open("plaintext", b"ctx")
    with pytest.raises(SecretError, match="base64"):
        SecretBox(KEY).open("aesgcm1:***", b"ctx")


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(SecretError):
        SecretBox(b"short")


def test_new_key_is_usable() -> None:
    assert len(base64.b64decode(new_key())) == 32


def test_model_refuses_plaintext_secret() -> None:
    mailbox = _mailbox()
    with pytest.raises(ValueError, match="sealed"):
        mailbox.password = "hunter2"


def test_sealed_field_never_shows_in_repr_or_dump() -> None:
    box = SecretBox(KEY)
    mailbox = _mailbox()
    seal_field(box, mailbox, "password", "hunter2")
    assert mailbox.password_is_set
    assert "hunter2" not in repr(mailbox)
    assert "hunter2" not in mailbox.model_dump_json()
    assert "SealedSecret('***')" in repr(mailbox)
    assert open_field(box, mailbox, "password") == "hunter2"


def test_clearing_a_secret() -> None:
    box = SecretBox(KEY)
    mailbox = _mailbox()
    seal_field(box, mailbox, "password", "x")
    seal_field(box, mailbox, "password", None)
    assert not mailbox.password_is_set
    assert open_field(box, mailbox, "password") is None
