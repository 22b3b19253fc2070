"""Option values, column lengths (N-33) and shape rules of the entities."""

import pytest
from pydantic import ValidationError

from sync.model import (
    ActivityParty,
    Alert,
    Email,
    EmailServerProfile,
    Mailbox,
    OrganizationSettings,
    Queue,
    SystemUser,
)
from sync.model.fields import EntityRef
from sync.model.options import (
    EMAIL_STATUS_STATE,
    ActDeliveryMethod,
    ActivityState,
    AlertLevel,
    CorrelationMethod,
    EmailStatus,
    EntityType,
    ExchangeApi,
    FilteringMethod,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    ParticipationType,
    ServerType,
)
from sync.model.profile import TlsMode

USER = EntityRef(type=EntityType.SYSTEM_USER, id="u1")
QUEUE = EntityRef(type=EntityType.QUEUE, id="q1")


def test_option_values_match_dynamics() -> None:
    assert IncomingDeliveryMethod.FORWARD_MAILBOX.value == 3
    assert OutgoingDeliveryMethod.SERVER_SIDE_SYNC.value == 2
    assert ActDeliveryMethod.SERVER_SIDE_SYNC.value == 1  # ACT numbers differently from email
    assert ActDeliveryMethod.NONE.value == 2
    assert ServerType.IMAP_SMTP.value == 4
    assert EmailStatus.PENDING_SEND.value == 6
    assert CorrelationMethod.SMART_MATCHING.value == 6
    assert ParticipationType.BCC_RECIPIENT.value == 4
    assert AlertLevel.ERROR.value == 3
    assert EntityType.MAILBOX.value == 9606


def test_failed_email_stays_open_and_sent_is_completed() -> None:
    assert EMAIL_STATUS_STATE[EmailStatus.FAILED] is ActivityState.OPEN
    assert EMAIL_STATUS_STATE[EmailStatus.SENT] is ActivityState.COMPLETED
    assert Email(direction=1, status=EmailStatus.CANCELED).state is ActivityState.CANCELED


def test_filtering_defaults_follow_conflict_c1_and_queue_rule() -> None:
    user = SystemUser(full_name="A", internal_email_address="a@example.test")
    queue = Queue(name="Support")
    assert user.incoming_filtering_method is FilteringMethod.RESPONSES_TO_CRM_EMAIL
    assert queue.incoming_filtering_method is FilteringMethod.ALL_EMAIL


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("subject", 800),
        ("message_id", 320),
        ("in_reply_to", 320),
        ("tracking_token", 50),
        ("sender", 250),
        ("to_recipients", 500),
        ("internet_message_headers", 500),
        ("conversation_index", 2048),
    ],
)
def test_email_column_lengths(field: str, limit: int) -> None:
    Email(direction=0, **{field: "x" * limit})
    with pytest.raises(ValidationError, match=field):
        Email(direction=0, **{field: "x" * (limit + 1)})


def test_lengths_enforced_on_assignment_too() -> None:
    email = Email(direction=0)
    with pytest.raises(ValidationError):
        email.subject = "x" * 801


def test_party_address_length() -> None:
    ActivityParty(participation=ParticipationType.TO_RECIPIENT, address_used="a" * 320)
    with pytest.raises(ValidationError):
        ActivityParty(participation=ParticipationType.TO_RECIPIENT, address_used="a" * 321)


def test_mailbox_address_and_name_lengths() -> None:
    address = f"{'a' * 60}@{'d' * 26}.example.test"  # 100 characters; a local part is at most 64 (RFC 5321)
    assert len(address) == 100
    Mailbox(name="x" * 200, email_address=address, owner=USER)
    with pytest.raises(ValidationError):
        Mailbox(name="x" * 201, email_address="a@example.test", owner=USER)
    with pytest.raises(ValidationError):
        Mailbox(name="x", email_address=f"{'a' * 100}@example.test", owner=USER)
    with pytest.raises(ValidationError):
        Mailbox(name="x", email_address="a@example.test", owner=USER, last_sync_error="e" * 2049)


def test_alert_text_lengths() -> None:
    Alert(level=AlertLevel.ERROR, code=1, text="t" * 2000, regarding=USER)
    with pytest.raises(ValidationError):
        Alert(level=AlertLevel.ERROR, code=1, text="t" * 2001, regarding=USER)


@pytest.mark.parametrize("address", ["no-at-sign", "two@@example.test", "sp ace@example.test", ""])
def test_bad_addresses_refused(address: str) -> None:
    with pytest.raises(ValidationError):
        SystemUser(full_name="A", internal_email_address=address)


def test_one_sender_per_email() -> None:
    sender = ActivityParty(participation=ParticipationType.SENDER, address_used="a@example.test")
    with pytest.raises(ValidationError, match="one sender"):
        Email(direction=0, parties=[sender, sender])


def test_mailbox_needs_an_owner_unless_forward() -> None:
    with pytest.raises(ValidationError, match="user or a queue"):
        Mailbox(name="x", email_address="a@example.test")
    forward = Mailbox(
        name="f",
        email_address="f@example.test",
        is_forward_mailbox=True,
        outgoing_method=OutgoingDeliveryMethod.NONE,
    )
    assert forward.owner is None


def test_forward_mailbox_rules() -> None:
    with pytest.raises(ValidationError, match="no owning"):
        Mailbox(
            name="f",
            email_address="f@example.test",
            is_forward_mailbox=True,
            owner=USER,
            outgoing_method=OutgoingDeliveryMethod.NONE,
        )
    with pytest.raises(ValidationError, match="outgoing method must be None"):
        Mailbox(name="f", email_address="f@example.test", is_forward_mailbox=True)


def test_delete_after_processing_only_for_forward_and_queue() -> None:
    Mailbox(name="q", email_address="q@example.test", owner=QUEUE, delete_emails_after_processing=True)
    Mailbox(
        name="f",
        email_address="f@example.test",
        is_forward_mailbox=True,
        outgoing_method=OutgoingDeliveryMethod.NONE,
        delete_emails_after_processing=True,
    )
    with pytest.raises(ValidationError, match="forward and queue"):
        Mailbox(name="u", email_address="u@example.test", owner=USER, delete_emails_after_processing=True)


def test_profile_tls_on_by_default_and_plaintext_explicit() -> None:
    profile = EmailServerProfile(name="p", server_type=ServerType.IMAP_SMTP)
    assert profile.incoming_tls is TlsMode.IMPLICIT
    with pytest.raises(ValidationError, match="allow_plaintext"):
        EmailServerProfile(name="p", server_type=ServerType.IMAP_SMTP, incoming_tls=TlsMode.NONE)
    EmailServerProfile(name="p", server_type=ServerType.IMAP_SMTP, incoming_tls=TlsMode.NONE, allow_plaintext=True)


def test_profile_numeric_ranges() -> None:
    with pytest.raises(ValidationError):
        EmailServerProfile(name="p", server_type=ServerType.IMAP_SMTP, max_concurrent_connections=301)
    with pytest.raises(ValidationError):
        EmailServerProfile(name="p", server_type=ServerType.IMAP_SMTP, timeout_mailbox_connection_after_ms=100_001)
    with pytest.raises(ValidationError):
        EmailServerProfile(name="p", server_type=ServerType.IMAP_SMTP, min_polling_interval_minutes=1441)
    profile = EmailServerProfile(name="p", server_type=ServerType.IMAP_SMTP, timeout_mailbox_connection_after_ms=2500)
    assert profile.connection_timeout_seconds == 2.5


def test_organization_defaults_follow_spec_decisions() -> None:
    org = OrganizationSettings()
    assert org.tracking_prefix == "CRM"  # C-9
    assert org.require_approval_for_user_email and org.require_approval_for_queue_email  # C-2
    assert org.create_queue_item_for_synchronizing_mailbox  # C-3
    assert org.is_folder_based_tracking_enabled  # C-4
    assert org.resolve_similar_unresolved_email_address  # C-6
    assert not org.notify_mailbox_owner_of_server_level_alerts  # C-7
    assert org.generate_alerts_for_warnings  # C-8
    assert org.max_folder_based_tracking_mappings == 25


def test_tracking_prefix_history_keeps_every_old_prefix() -> None:
    org = OrganizationSettings()
    org.change_tracking_prefix("CASE")
    org.change_tracking_prefix("TKT")
    assert org.all_tracking_prefixes() == ["TKT", "CASE", "CRM"]
    org.change_tracking_prefix("CRM")
    assert org.all_tracking_prefixes() == ["CRM", "TKT", "CASE"]


@pytest.mark.parametrize("prefix", ["", "x" * 21, "has space"])
def test_tracking_prefix_limits(prefix: str) -> None:
    with pytest.raises(ValidationError):
        OrganizationSettings(tracking_prefix=prefix)


def test_token_digit_ranges() -> None:
    OrganizationSettings(tracking_token_id_digits=10, tracking_counter_digits=9)
    with pytest.raises(ValidationError):
        OrganizationSettings(tracking_token_id_digits=11)
    with pytest.raises(ValidationError):
        OrganizationSettings(tracking_counter_digits=10)


def test_exchange_online_goes_through_graph_unless_the_profile_asks_for_ews() -> None:
    online = EmailServerProfile(name="EXO", server_type=ServerType.EXCHANGE_ONLINE)
    assert online.uses_graph
    assert not online.model_copy(update={"exchange_api": ExchangeApi.EWS}).uses_graph
    assert not EmailServerProfile(name="On premises", server_type=ServerType.EXCHANGE_SERVER).uses_graph
    with pytest.raises(ValidationError, match="Graph reaches Exchange Online only"):
        EmailServerProfile(name="x", server_type=ServerType.EXCHANGE_SERVER, exchange_api=ExchangeApi.GRAPH)
