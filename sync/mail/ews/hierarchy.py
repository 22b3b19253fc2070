"""Tracking rules against the Inbox's folder hierarchy (R-FLT-2, R-FLT-9, R-FLT-12) — pure.

The hierarchy is synchronized with SyncFolderHierarchy rooted at the Inbox, so its changes are exactly
what matters to rules: a Create or Update names a folder under the Inbox (a rename keeps the folder id,
so the rule follows it), a Delete means the folder left the Inbox - moved elsewhere or deleted - and
its rule stops. On the first synchronization every folder under the Inbox is a Create: a rule whose
folder is not among them never pointed at an Inbox subfolder and stops too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sync.mail.port import RuleChange, TrackingRule


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
