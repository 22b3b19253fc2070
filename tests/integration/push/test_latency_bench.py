"""``python -m bench.latency --quick``: the harness runs end to end and prints its JSON (the figures of a
quick run mean nothing: three mailboxes per group, seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT_S = 300


def test_the_quick_latency_benchmark_tracks_every_message_and_prints_its_json() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.latency", "--quick"], cwd=ROOT, capture_output=True, text=True,
        timeout=TIMEOUT_S, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "latency" and result["quick"] is True
    for group in ("push", "graph_poll", "imap"):
        assert result[f"{group}_untracked"] == 0
        assert result[f"{group}_p50_s"] <= result[f"{group}_p95_s"] <= result[f"{group}_max_s"]
        assert 0 <= result[f"{group}_most_refused_in_a_row"] <= result[f"{group}_throttled_cycles"]
    assert result["imap_logins_per_mailbox_hour"] > 0 and result["push_calls_per_mailbox_hour"] > 0
