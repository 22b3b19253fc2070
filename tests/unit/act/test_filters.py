from datetime import UTC, datetime

from sync.act.filters import interested_users, matches, rule_for
from sync.model import Contact
from sync.model.act import Appointment, FilterRule, Task
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import EntityType, ParticipationType

START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def party(user: str, role: ParticipationType) -> ActivityParty:
    return ActivityParty(participation=role, party=EntityRef(type=EntityType.SYSTEM_USER, id=user))


def meeting(*parties: ActivityParty, owner: str | None = None) -> Appointment:
    return Appointment(scheduled_start=START, scheduled_end=START, parties=list(parties), owner_user_id=owner)


def test_the_default_appointment_filter_selects_organizers_and_required_attendees() -> None:
    rule = rule_for(EntityType.APPOINTMENT)
    assert matches(rule, meeting(party("alice", ParticipationType.ORGANIZER)), "alice")
    assert matches(rule, meeting(party("alice", ParticipationType.REQUIRED_ATTENDEE)), "alice")
    assert not matches(rule, meeting(party("alice", ParticipationType.OPTIONAL_ATTENDEE)), "alice")
    assert not matches(rule, meeting(owner="alice"), "alice")  # R-ACT-23: not the owner alone


def test_contacts_and_tasks_follow_their_owner_by_default() -> None:
    assert matches(rule_for(EntityType.CONTACT), Contact(last_name="Clark", owner_user_id="alice"), "alice")
    assert not matches(rule_for(EntityType.TASK), Task(owner_user_id="bob"), "alice")


def test_a_user_filter_replaces_the_default_and_nothing_selects_nothing() -> None:
    configured = {EntityType.CONTACT: FilterRule.NOTHING}
    assert not matches(rule_for(EntityType.CONTACT, configured), Contact(last_name="C", owner_user_id="a"), "a")


def test_every_user_a_change_may_concern_is_named() -> None:
    appointment = meeting(
        party("alice", ParticipationType.ORGANIZER), party("bob", ParticipationType.OPTIONAL_ATTENDEE), owner="carol"
    )
    assert interested_users(appointment) == {"alice", "bob", "carol"}
