"""Which folders an Exchange cycle reads, and tracking rules against the Inbox's hierarchy — pure.

:func:`plan_folders` is the same for EWS and Graph: the Inbox, Sent Items when asked (R-IN-5), then each
tracking rule whose folder is still under the Inbox (R-FLT-2, R-FLT-9, R-FLT-12).

With EWS the hierarchy is synchronized with SyncFolderHierarchy rooted at the Inbox, so its changes are exactly
what matters to rules: a Create or Update names a folder under the Inbox (a rename keeps the folder id,
so the rule follows it), a Delete means the folder left the Inbox - moved elsewhere or deleted - and
its rule stops. On the first synchronization every folder under the Inbox is a Create: a rule whose
folder is not among them never pointed at an Inbox subfolder and stops too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sync.mail.port import (
    INBOX,
    SENT_ITEMS,
    TRACKED_PREFIX,
    FolderContext,
    FolderPlan,
    FolderReader,
    FolderRole,
    FolderSync,
    RuleChange,
    TrackingRule,
)

WELL_KNOWN = {INBOX: "inbox", SENT_ITEMS: "sentitems"}  # the folders' well-known names in EWS and Graph alike


@dataclass(frozen=True)
class HierarchyChanges:
    named: Mapping[str, str]  # folder id -> display name, for created and updated folders
    removed: frozenset[str]  # folder ids no longer under the Inbox
    complete: bool  # a first synchronization: ``named`` lists every folder under the Inbox


def rule_changes(rules: Iterable[TrackingRule], changes: HierarchyChanges) -> tuple[RuleChange, ...]:
    found: list[RuleChange] = []
    for rule in rules:
        if rule.folder_id in changes.removed or (changes.complete and rule.folder_id not in changes.named):
            found.append(RuleChange(rule.rule_id, gone=True))
        elif rule.folder_id in changes.named:
            found.append(RuleChange(rule.rule_id, name=changes.named[rule.folder_id]))
    return tuple(found)


def plan_folders(
    plan: FolderPlan,
    reader: Callable[[str, FolderContext], FolderReader],
    hierarchy: Callable[[str | None], tuple[HierarchyChanges, str | None]],
) -> FolderSync:
    """``reader(folder, context)`` opens a folder by well-known name (Inbox, Sent Items) or by id (a rule's);
    ``hierarchy(state)`` gives the Inbox's subfolder changes since ``state``, asked only when there are rules."""
    readers = [reader(WELL_KNOWN[INBOX], FolderContext(INBOX))]
    if plan.sent_items:
        readers.append(reader(WELL_KNOWN[SENT_ITEMS], FolderContext(SENT_ITEMS, FolderRole.SENT_ITEMS)))
    if not plan.rules:
        return FolderSync(readers)
    changes, state = hierarchy(plan.hierarchy_state)
    changed = rule_changes(plan.rules, changes)
    gone = {c.rule_id for c in changed if c.gone}
    for rule in plan.rules:
        if rule.rule_id not in gone:
            key = f"{TRACKED_PREFIX}{rule.folder_id}"
            readers.append(
                reader(rule.folder_id, FolderContext(key, FolderRole.TRACKED_FOLDER, rule.regarding, rule.rule_id))
            )
    return FolderSync(readers, changed, state)
