from sync.mail.folder_plan import HierarchyChanges, rule_changes
from sync.mail.port import RuleChange, TrackingRule

RULES = (TrackingRule("r1", "f1"), TrackingRule("r2", "f2"))


def test_first_sync_stops_rules_whose_folder_is_not_under_the_inbox() -> None:
    changes = HierarchyChanges(named={"f1": "Projects"}, removed=frozenset(), complete=True)
    assert rule_changes(RULES, changes) == (RuleChange("r1", name="Projects"), RuleChange("r2", gone=True))


def test_a_renamed_folder_keeps_its_rule_with_the_new_name() -> None:
    changes = HierarchyChanges(named={"f2": "Renamed"}, removed=frozenset(), complete=False)
    assert rule_changes(RULES, changes) == (RuleChange("r2", name="Renamed"),)


def test_a_folder_moved_out_of_the_inbox_stops_its_rule() -> None:
    changes = HierarchyChanges(named={}, removed=frozenset({"f1"}), complete=False)
    assert rule_changes(RULES, changes) == (RuleChange("r1", gone=True),)


def test_no_changes_leave_the_rules_alone() -> None:
    assert rule_changes(RULES, HierarchyChanges(named={"other": "X"}, removed=frozenset(), complete=False)) == ()
