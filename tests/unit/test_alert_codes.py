"""R-ERR-6: one alert code per meaning, so no alert overwrites or dismisses another kind on the same record."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from sync.health import alerts, enable_alerts, notifications, profile_alerts
from sync.outgoing import alerts as outgoing_alerts

MODULES = (alerts, enable_alerts, outgoing_alerts, notifications, profile_alerts)


def defined_codes(module: ModuleType) -> dict[str, int]:
    """The ``CODE_*`` constants ``module`` defines itself (not the ones it imports)."""
    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    return {
        f"{module.__name__}.{name}": value
        for name, value in vars(module).items()
        if name.startswith("CODE_") and isinstance(value, int) and f"\n{name} = " in source
    }


def test_r_err_6_every_alert_code_means_one_thing() -> None:
    by_value: dict[int, list[str]] = {}
    for module in MODULES:
        for name, value in defined_codes(module).items():
            by_value.setdefault(value, []).append(name)
    assert {value: names for value, names in by_value.items() if len(names) > 1} == {}
    assert sum(len(names) for names in by_value.values()) >= 20
