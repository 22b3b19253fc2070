from sync.incoming.owner import choose_owner
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import EntityType, ParticipationType

TO, CC = ParticipationType.TO_RECIPIENT, ParticipationType.CC_RECIPIENT


def p(kind: EntityType, rid: str, role: ParticipationType = TO) -> ActivityParty:
    return ActivityParty(participation=role, party=EntityRef(type=kind, id=rid))


def user(rid: str) -> EntityRef:
    return EntityRef(type=EntityType.SYSTEM_USER, id=rid)


def test_first_to_recipient_then_cc() -> None:
    recipients = [p(EntityType.SYSTEM_USER, "cc-user", CC), p(EntityType.SYSTEM_USER, "to-user")]
    assert choose_owner(recipients=recipients, queue_owners={}, correlated_owner=None,
                        sender_record_owner_user_id=None, mailbox_owner_user_id="mbx") == user("to-user")  # fmt: skip


def test_queue_recipient_contributes_its_owner() -> None:
    assert choose_owner(recipients=[p(EntityType.QUEUE, "q")], queue_owners={"q": "boss"}, correlated_owner=None,
                        sender_record_owner_user_id=None, mailbox_owner_user_id=None) == user("boss")  # fmt: skip


def test_owner_of_correlated_email_wins() -> None:
    recipients = [p(EntityType.SYSTEM_USER, "a"), p(EntityType.SYSTEM_USER, "b")]
    assert choose_owner(recipients=recipients, queue_owners={}, correlated_owner=user("b"),
                        sender_record_owner_user_id="a", mailbox_owner_user_id=None) == user("b")  # fmt: skip


def test_owner_of_the_sender_record_wins_next() -> None:
    recipients = [p(EntityType.SYSTEM_USER, "a"), p(EntityType.SYSTEM_USER, "b")]
    assert choose_owner(recipients=recipients, queue_owners={}, correlated_owner=user("zzz"),
                        sender_record_owner_user_id="b", mailbox_owner_user_id=None) == user("b")  # fmt: skip


def test_falls_back_to_the_mailbox_owner() -> None:
    assert choose_owner(recipients=[p(EntityType.CONTACT, "c")], queue_owners={}, correlated_owner=None,
                        sender_record_owner_user_id=None, mailbox_owner_user_id="mbx") == user("mbx")  # fmt: skip
