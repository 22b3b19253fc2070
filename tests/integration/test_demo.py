"""``make demo`` runs to the end on its own local stack and shows what was tracked and why."""

from __future__ import annotations

import pytest

from devstack import demo

pytestmark = pytest.mark.integration


def test_the_demo_tracks_what_it_should(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main() == 0
    out = capsys.readouterr().out
    rows = {line[2:].split("  ")[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "tracked" in rows["contact -> support queue (tracks all)"]
    assert "NoCorrelationMatch" in rows["contact -> Alice (tracks replies only)"]
    assert "InvalidForwardMailItem" in rows["forwarded inline instead of attached"]
    assert "BounceNotCorrelated" in rows["bounce -> Alice"]
    reply = rows["contact's reply to CRM mail -> Alice"]
    assert "in_reply_to" in reply and "Fabrikam" in reply and "Alice Adams" in reply
    assert "Bob Brown" in rows["lead -> Bob, forwarded to the collector"]
    assert "==> done" in out
