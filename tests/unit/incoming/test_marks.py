from sync.incoming.marks import TRACKED_CATEGORY, UNDELIVERABLE_CATEGORY, mark_for
from sync.incoming.reasons import Reason
from sync.mail.port import RemoteMessage

MESSAGE = RemoteMessage(key="id|ck", size=10, received_on=None)
CATEGORIZED = RemoteMessage(key="id|ck", size=10, received_on=None, categories=("Red", TRACKED_CATEGORY))


def test_a_tracked_message_gets_the_tracking_category() -> None:
    mark = mark_for(MESSAGE, Reason.ACCEPT_ALL, categorize=True, move_undelivered=False)
    assert mark is not None and mark.category == TRACKED_CATEGORY and not mark.move_to_undeliverable


def test_a_message_tracked_by_another_mailbox_is_categorized_too() -> None:
    mark = mark_for(MESSAGE, Reason.DUPLICATE, categorize=True, move_undelivered=False)
    assert mark is not None and mark.category == TRACKED_CATEGORY


def test_no_category_when_the_organization_does_not_track_by_category() -> None:
    assert mark_for(MESSAGE, Reason.ACCEPT_ALL, categorize=False, move_undelivered=True) is None


def test_a_message_with_the_category_already_is_left_alone() -> None:
    assert mark_for(CATEGORIZED, Reason.ALREADY_PROCESSED, categorize=True, move_undelivered=False) is None


def test_a_message_the_filter_did_not_want_is_left_alone() -> None:
    assert mark_for(MESSAGE, Reason.NO_CORRELATION_MATCH, categorize=True, move_undelivered=True) is None


def test_an_unreadable_message_is_marked_undeliverable_and_moved_when_the_profile_says_so() -> None:
    mark = mark_for(MESSAGE, Reason.QUARANTINED, categorize=True, move_undelivered=True)
    assert mark is not None and mark.category == UNDELIVERABLE_CATEGORY and mark.move_to_undeliverable


def test_an_unreadable_message_stays_in_place_without_the_profile_option() -> None:
    mark = mark_for(MESSAGE, Reason.INVALID_SENDER, categorize=True, move_undelivered=False)
    assert mark is not None and mark.category == UNDELIVERABLE_CATEGORY and not mark.move_to_undeliverable
