"""``make demo`` runs to the end on its own local stack and shows what was tracked, sent and why."""

from __future__ import annotations

import pytest

from devstack import demo

pytestmark = pytest.mark.integration


def test_the_demo_runs_the_whole_job(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    names = (
        "AzureWebJobsStorage",
        "SYNC_SECRET_ENCRYPTION_KEY",
        "SYNC_STORAGE_PREFIX",
        "SYNC_EXTRA_CA_FILE",
        "SYNC_ALLOW_LOOPBACK_MAIL_HOSTS",
    )
    for name in (*names, "SYNC_API_KEYS"):
        monkeypatch.setenv(name, "")  # the demo sets them; recorded here so they are restored (or removed) after
    assert demo.main() == 0
    out = capsys.readouterr().out
    rows = {line[2:].split("  ")[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert rows["alice@example.test"].split()[1:4] == ["SUCCESS", "SUCCESS", "enabled"]
    assert any("Your quote for 20 licences CRM:" in line and "carol@fabrikam.test" in line for line in out.splitlines())
    assert "tracked" in rows["contact -> support queue (tracks all)"]
    assert "NoCorrelationMatch" in rows["contact -> Alice (tracks replies only)"]
    assert "InvalidForwardMailItem" in rows["forwarded inline instead of attached"]
    assert "BounceNotCorrelated" in rows["bounce -> Alice"]
    reply = rows["Carol's reply to the quote Alice sent -> Alice"]
    assert "in_reply_to" in reply and "Fabrikam" in reply and "Alice Adams" in reply
    assert "Bob Brown" in rows["lead -> Bob, forwarded to the collector"]
    assert "was tested successfully" in out
    assert "==> done" in out
