"""What is wrong with the app settings, all of it at once, each problem with its fix.

pydantic stops at the field errors before it runs the rules that span several settings, so a missing
key used to hide a missing storage setting until the key was fixed: one restart per problem. The rules
that only ask whether settings are present are checked here on the raw input instead, next to the
field errors, and every problem is reported in one message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sync.errors import ConfigurationError

STORAGE_FIX = (
    "set AzureWebJobsStorage to a connection string (local development: Azurite's, which `make dev` writes into "
    "local.settings.json) or AzureWebJobsStorage__accountName to the account name (Azure, managed identity); "
    "not both"
)
# How to fix the settings people most often get wrong; the others point at their description.
FIXES: Mapping[str, str] = {
    "secret_encryption_key": "set it to the output of `python -m sync new-key` (keep it: it decrypts the stored "
    "passwords)",
    "api_keys": "append the digest `python -m sync new-api-key` prints",
    "storage_connection_string": STORAGE_FIX,
    "storage_account_name": STORAGE_FIX,
}
GENERIC_FIX = "see the settings table in the README and its description in sync/settings.py"


@dataclass(frozen=True)
class SettingProblem:
    """One bad setting: its environment variable name, what is wrong and how to fix it."""

    setting: str
    reason: str
    fix: str

    def line(self) -> str:
        return f"{self.setting}: {self.reason}. Fix: {self.fix}"


class InvalidSettings(ConfigurationError):
    """Every problem of the app settings; the message lists them, one per line."""

    def __init__(self, problems: Sequence[SettingProblem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"invalid app settings ({count} problem{'s' if count != 1 else ''}; fix them all, then start again):"
        super().__init__("\n".join([header, *(f"  - {p.line()}" for p in self.problems)]))


def field_problems(
    errors: Sequence[Mapping[str, Any]], names: Mapping[str, list[str]], descriptions: Mapping[str, str | None]
) -> list[SettingProblem]:
    """pydantic's field errors as problems named by environment variable (``names``: field -> aliases)."""
    problems = []
    for error in errors:
        location = error.get("loc") or ()
        field = _field_named(str(location[0]) if location else "", names)
        setting = names.get(field, [field or "settings"])[0]
        reason = "is not set" if error.get("type") == "missing" else str(error.get("msg", "is invalid"))
        reason = reason.removeprefix("Value error, ")
        fix = FIXES.get(field) or _describe(descriptions.get(field))
        problems.append(SettingProblem(setting, reason, fix))
    return problems


def presence_problems(data: Mapping[str, Any], names: Mapping[str, list[str]]) -> list[SettingProblem]:
    """The rules about which settings must be set together, checked on the raw input (empty counts as unset)."""
    given = {str(key).lower() for key, value in data.items() if value not in (None, "")}

    def is_set(field: str) -> bool:
        return any(name.lower() in given for name in (field, *names.get(field, [])))

    problems = []
    if is_set("storage_connection_string") == is_set("storage_account_name"):
        problems.append(
            SettingProblem(
                "AzureWebJobsStorage / AzureWebJobsStorage__accountName",
                "exactly one storage target is needed, " + ("both are set" if is_set("storage_account_name")
                                                            else "neither is set"),
                STORAGE_FIX,
            )
        )  # fmt: skip
    if is_set("api_tenant_id") != is_set("api_audience"):
        problems.append(
            SettingProblem(
                "SYNC_API_TENANT_ID / SYNC_API_AUDIENCE",
                "only one of the two is set",
                "set both SYNC_API_TENANT_ID and SYNC_API_AUDIENCE to accept Entra ID tokens, or neither",
            )
        )
    return problems


def _field_named(name: str, names: Mapping[str, list[str]]) -> str:
    """The field an error location names: pydantic reports a field by the alias its value came from."""
    for field, aliases in names.items():
        if name.lower() in (alias.lower() for alias in (field, *aliases)):
            return field
    return name


def _describe(description: str | None) -> str:
    return f"{description.rstrip('.')} ({GENERIC_FIX})" if description else GENERIC_FIX
