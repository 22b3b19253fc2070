"""The dashboard's series over the last 24 hours, per hour, from rows the workers and timers already write.

- emails tracked, not tracked and quarantined, cycles and failed cycles: the 10-minute ``SyncTotals`` buckets the
  incoming workers add to when a cycle ends (summed per hour here: one range query, at most 3 pages);
- not-tracked reasons: the same buckets' ``r_<Reason>`` counters;
- send outcomes: ``sent`` and ``send_failed``, counted into the same buckets by the outbox sweep as it confirms
  each outgoing email, plus the emails still in the outbox index (submitted, outcome not yet confirmed by the
  sweep: pending, sending, or sent in its last ``LOST_MESSAGE_GRACE``);
- failing mailboxes: the number of mailboxes with an error in the last hour, sampled by the summary timer
  (``SyncTotals`` partition ``failing``, one row per hour: one query). An hour the timer did not run has no value.

So a dashboard costs 2 range queries of totals plus one page of the outbox index per 1,000 outgoing emails in it,
whatever the number of mailboxes. :func:`hourly` is pure; :func:`read_dashboard` does the reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync.store.names import Table
from sync.store.store import Store
from sync.store.sync_totals import Totals

HOURS = 24


@dataclass(frozen=True)
class HourPoint:
    hour: datetime
    """The hour's start (UTC)."""
    tracked: int = 0
    not_tracked: int = 0
    quarantined: int = 0
    cycles: int = 0
    cycles_failed: int = 0
    sent: int = 0
    send_failed: int = 0
    failing_mailboxes: int | None = None
    """Mailboxes with an error in the last hour at the hour's last sample; None when no sample was taken."""


@dataclass(frozen=True)
class Dashboard:
    as_of: datetime
    hours: list[HourPoint]
    reasons: list[tuple[str, int]]
    """Not-tracked reasons over the whole window, most frequent first."""
    in_outbox: int
    totals: Totals = field(default_factory=Totals)


def hour_start(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def hourly(
    buckets: Mapping[str, Totals], failing: Mapping[str, tuple[int, int]], now: datetime, in_outbox: int = 0
) -> Dashboard:
    """Sum the 10-minute buckets (keys ``t<yyyymmddHH><tens>``) into the ``HOURS`` hours ending with ``now``'s."""
    last = hour_start(now)
    first = last - timedelta(hours=HOURS - 1)
    per_hour: dict[str, Totals] = {}
    for key, totals in buckets.items():
        per_hour.setdefault(key[1:11], Totals()).add(totals)
    points: list[HourPoint] = []
    window = Totals()
    for step in range(HOURS):
        hour = first + timedelta(hours=step)
        key = f"{hour:%Y%m%d%H}"
        totals = per_hour.get(key, Totals())
        window.add(totals)
        sample = failing.get(key)
        points.append(
            HourPoint(
                hour=hour, tracked=totals.tracked, not_tracked=totals.not_tracked, quarantined=totals.failed,
                cycles=totals.cycles, cycles_failed=totals.cycles_failed, sent=totals.sent,
                send_failed=totals.send_failed, failing_mailboxes=sample[0] if sample else None,
            )
        )  # fmt: skip
    reasons = Counter(window.reasons).most_common()
    return Dashboard(as_of=now, hours=points, reasons=reasons, in_outbox=in_outbox, totals=window)


def outbox_size(store: Store) -> int:
    """Emails in the outbox index (RowKeys only: one request per 1,000)."""
    table = store.account.table(Table.OUTBOX)
    return sum(1 for _ in table.list_entities(select=["RowKey"], results_per_page=1000))


def read_dashboard(store: Store, now: datetime) -> Dashboard:
    first = hour_start(now) - timedelta(hours=HOURS - 1)
    buckets = store.sync_totals.between(first, now)
    failing = store.sync_totals.failing_between(first, now)
    return hourly(buckets, failing, now, outbox_size(store))
