"""The organization at a glance, at a fixed storage cost per request whatever the number of mailboxes.

Two sources, each cheap to read:

- mailbox states per workload and the failing profiles change slowly and need every mailbox: a timer
  (``refresh_summary``, ``SYNC_SUMMARY_SCHEDULE``, every 5 minutes) scans the Mailboxes and Profiles tables
  once and saves the counts as one snapshot row; a request reads that row (1 request). Only when no snapshot
  exists yet (a new deployment) does a request build it, once;
- emails tracked, not tracked (with reasons) and failed come from the 10-minute totals the workers add to
  when a cycle ends (``store/sync_totals.py``). The timer also sums the day's buckets before its time into
  the snapshot; a request adds the buckets since, read live with the last hour's: one range query of about
  7 buckets (at most 112 rows, one page).

The timer also saves how many mailboxes are failing (an error in the last hour) as its hour's sample, the
dashboard's "failing mailboxes over time" (one upsert per tick).

So a summary costs 2 Table requests (the snapshot and one page of totals) at 10 or 10,000 mailboxes. Should
the timer stop, the live part grows to the whole day, at most 3 pages (4 requests). The timer's scan costs
about one request per 1,000 mailboxes plus 3 pages of totals every 5 minutes. The states and the start of the
day's window are as of the snapshot's ``as_of``; the last hour and the newest buckets are live.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sync.model import EmailServerProfile, Mailbox
from sync.operations.states import WORKLOADS, WorkloadState, workload_states
from sync.store.store import Store
from sync.store.sync_totals import COUNTERS, Totals, bucket_key, bucket_start

FAILURE_WINDOW = timedelta(hours=1)  # R-ERR-7 / N-11, as the profile health route counts it
PROFILE_ALERT_SHARE = 0.5  # R-ERR-7: more than half of a profile's mailboxes failing is an alert
MAX_FAILING_PROFILES = 100  # the snapshot row stays small; the worst come first
TOP_REASONS = 10


def failed_recently(mailbox: Mailbox, now: datetime) -> bool:
    """An incoming error in the last hour that no successful cycle has cleared since."""
    when = mailbox.last_sync_error_occurred_on
    return bool(when and now - when <= FAILURE_WINDOW and mailbox.last_sync_error_count > 0)


def build_snapshot(store: Store, now: datetime) -> dict[str, Any]:
    """Count every mailbox's workload states and find the failing profiles (a scan: the timer's job)."""
    org = store.get_organization()
    profiles: dict[str, EmailServerProfile] = {p.id: p for p in store.profiles.query()}
    counts: dict[str, Counter[str]] = {w: Counter() for w in WORKLOADS}
    per_profile: dict[str, list[int]] = {}
    total = 0
    for mailbox in store.mailboxes.query():
        total += 1
        profile = profiles.get(mailbox.email_server_profile_id or "")
        for workload, state in workload_states(mailbox, profile, org, now).items():
            counts[workload][state.value] += 1
        if mailbox.email_server_profile_id:
            seen = per_profile.setdefault(mailbox.email_server_profile_id, [0, 0])
            seen[0] += 1
            seen[1] += failed_recently(mailbox, now)
    failing: list[dict[str, Any]] = [
        {
            "profile_id": profile_id,
            "name": profiles[profile_id].name if profile_id in profiles else None,
            "mailboxes": boxes,
            "failing_last_hour": bad,
            "failing_share": round(bad / boxes, 4),
            "over_alert_threshold": bad / boxes > PROFILE_ALERT_SHARE,
        }
        for profile_id, (boxes, bad) in per_profile.items()
        if bad
    ]
    failing.sort(key=lambda p: (-p["failing_share"], -p["failing_last_hour"], p["profile_id"]))
    return {
        "as_of": now.isoformat(),
        "mailboxes": total,
        "failing_last_hour": sum(bad for _, bad in per_profile.values()),
        "states": {w: {s.value: counts[w][s.value] for s in WorkloadState} for w in WORKLOADS},
        "failing_profiles": failing[:MAX_FAILING_PROFILES],
        "failing_profiles_total": len(failing),
    }


def refresh_snapshot(store: Store, now: datetime) -> dict[str, Any]:
    """The timer's work: count the states and sum the day's email totals so far; save both in one row."""
    snapshot = {**build_snapshot(store, now), "earlier_emails": earlier_emails(store, now)}
    store.sync_totals.save_snapshot(snapshot)
    store.sync_totals.save_failing(now, snapshot["failing_last_hour"], snapshot["mailboxes"])
    return snapshot


def _window(totals: Totals) -> dict[str, Any]:
    return {
        "cycles": totals.cycles,
        "cycles_failed": totals.cycles_failed,
        "tracked": totals.tracked,
        "not_tracked": totals.not_tracked,
        "failed": totals.failed,
        "top_not_tracked_reasons": [
            {"reason": reason, "count": count} for reason, count in totals.reasons.most_common(TOP_REASONS)
        ],
    }


def _dump(totals: Totals) -> dict[str, Any]:
    return {**{name: getattr(totals, name) for name in COUNTERS}, "reasons": dict(totals.reasons)}


def _load(saved: dict[str, Any]) -> Totals:
    totals = Totals(reasons=Counter(saved.get("reasons") or {}))
    for name in COUNTERS:
        setattr(totals, name, int(saved.get(name) or 0))
    return totals


def earlier_emails(store: Store, now: datetime) -> dict[str, Any]:
    """The day's totals before the current bucket, summed once by the timer (up to 2,320 rows read)."""
    cutoff = bucket_key(bucket_start(now))
    earlier = Totals()
    for key, totals in store.sync_totals.between(now - timedelta(days=1), now).items():
        if key < cutoff:
            earlier.add(totals)
    return {"until": cutoff, "until_on": bucket_start(now).isoformat(), "totals": _dump(earlier)}


def email_figures(store: Store, now: datetime, earlier: dict[str, Any] | None) -> dict[str, Any]:
    """Last hour and last day, in whole 10-minute buckets (the last hour spans 60 to 70 minutes).

    The day is the snapshot's sum of the buckets before its time plus the buckets since, read live; the last
    hour is read live. A request so reads about 7 buckets (112 rows, one page) while the timer runs; if it
    stopped, the live part grows up to the whole day (3 pages) and the snapshot's sum is ignored.
    """
    day_from = bucket_key(now - timedelta(days=1))
    hour_start = bucket_start(now - FAILURE_WINDOW)
    day = Totals()
    if earlier is not None and earlier["until"] > day_from:
        day.add(_load(earlier["totals"]))
        cutoff, live_start = earlier["until"], min(hour_start, datetime.fromisoformat(earlier["until_on"]))
    else:
        cutoff, live_start = day_from, now - timedelta(days=1)
    hour_from, hour = bucket_key(hour_start), Totals()
    for key, totals in store.sync_totals.between(live_start, now).items():
        if key >= cutoff:
            day.add(totals)
        if key >= hour_from:
            hour.add(totals)
    return {"last_hour": _window(hour), "last_day": _window(day)}


def summary(store: Store, now: datetime) -> dict[str, Any]:
    snapshot = store.sync_totals.snapshot() or refresh_snapshot(store, now)
    earlier = snapshot.pop("earlier_emails", None)
    return {"as_of": now.isoformat(), "mailbox_states": snapshot, "emails": email_figures(store, now, earlier)}
