"""A fresh `azd up` gives an admin API that answers its administrators: templates, hooks, docs and code agree.

The templates must set who may call the API (API key digests from Key Vault, the Entra tenant and audience of an
app registration), the preprovision hook must mint a first key, and the docs must name the app roles the code
checks. Each check reads the code at test time, so renaming a role or a setting fails here until the rest follows.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from fastapi import HTTPException

from sync.api.auth import ADMIN_ROLE, APPROVER_ROLE, READER_ROLE, Authenticator
from sync.settings import load_settings
from tests.infra.iac import INFRA, KEY_VAULT_REFERENCE, ROOT, Reference, app_settings, templates

DEPLOY_DOC = ROOT / "docs" / "deploy.md"
HOOKS = INFRA / "hooks"
ROLE_NAME = re.compile(r"\b(?:Sync|Admin)\.[A-Z][A-Za-z]+\b")
AZD_VARIABLE = re.compile(r"^\$\{(\w+)\}$")

# A stand-in for the Azure Developer CLI: `azd env get-value NAME` and `azd env set NAME VALUE` on files in $AZD_DIR.
FAKE_AZD = """#!/bin/sh
set -eu
[ "$1" = env ] || exit 2
case "$2" in
  get-value) [ -f "$AZD_DIR/$3" ] || { echo "ERROR: key '$3' not found" >&2; exit 1; }; cat "$AZD_DIR/$3" ;;
  set) printf '%s' "$4" > "$AZD_DIR/$3" ;;
  *) exit 2 ;;
esac
"""


def main_parameters() -> dict[str, str]:
    """Each parameter of main.bicep that main.parameters.json feeds, with the azd variable it comes from."""
    document = json.loads((INFRA / "main.parameters.json").read_text())
    fed: dict[str, str] = {}
    for name, spec in document["parameters"].items():
        match = AZD_VARIABLE.match(str(spec.get("value", "")))
        assert match, f"parameter {name} is not fed from an azd environment variable: {spec!r}"
        fed[name] = match.group(1)
    return fed


def environment_of_deployment(client_id: str, tenant_id: str) -> dict[str, str]:
    """The app settings a deployment gets, with the parameters and Key Vault references resolved as Azure would."""
    settings, problems = app_settings(INFRA)
    assert problems == []
    resolved = {"adminApiClientId": client_id, "storageAccountName": "stplaceholder"}
    environment: dict[str, str] = {}
    for name, value in settings.items():
        if isinstance(value, Reference) and value.parameter in resolved:
            environment[name] = resolved[value.parameter]
        elif isinstance(value, str) and not KEY_VAULT_REFERENCE.match(value) and "${" not in value:
            environment[name] = value
    environment["SYNC_SECRET_ENCRYPTION_KEY"] = "A" * 43 + "="
    environment["SYNC_API_KEYS"] = hashlib.sha256(b"the first key").hexdigest()
    environment["SYNC_API_TENANT_ID"] = tenant_id if client_id else ""  # the template's conditional
    return environment


# --- templates ---------------------------------------------------------------------------------------------------


def test_the_api_key_digests_come_from_key_vault() -> None:
    settings, problems = app_settings(INFRA)
    assert problems == []
    assert KEY_VAULT_REFERENCE.match(str(settings["SYNC_API_KEYS"]))
    assert settings["SYNC_API_AUDIENCE"] == Reference("adminApiClientId")
    assert "SYNC_API_TENANT_ID" in settings


def test_every_parameter_of_the_deployment_comes_from_azd() -> None:
    (main,) = [t for t in templates(INFRA) if t.path.name == "main.bicep"]
    assert set(main.parameters) == set(main_parameters())
    assert main_parameters()["adminApiKeyDigests"] == "SYNC_ADMIN_API_KEY_DIGESTS"


def test_with_an_app_registration_the_deployed_api_accepts_its_tenants_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in environment_of_deployment("11111111-2222-3333-4444-555555555555", "tenant-x").items():
        monkeypatch.setenv(name, value)
    authenticator = Authenticator(load_settings())
    assert authenticator.entra is not None
    assert (authenticator.entra.tenant_id, authenticator.entra.audience) == (
        "tenant-x",
        "11111111-2222-3333-4444-555555555555",
    )
    assert authenticator.from_api_key("the first key").is_admin  # keys keep working beside Entra ID


def test_without_an_app_registration_the_deployed_api_takes_api_keys_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in environment_of_deployment("", "tenant-x").items():
        monkeypatch.setenv(name, value)
    authenticator = Authenticator(load_settings())
    assert authenticator.entra is None
    assert authenticator.from_api_key("the first key").is_admin
    with pytest.raises(HTTPException) as refused:
        authenticator.from_api_key("another key")
    assert refused.value.status_code == 401


# --- the preprovision hook -------------------------------------------------------------------------------------


@pytest.fixture
def azd(tmp_path: Path) -> dict[str, str]:
    """An environment whose `azd` keeps its variables as files in a folder."""
    bin_dir, values = tmp_path / "bin", tmp_path / "env"
    bin_dir.mkdir()
    values.mkdir()
    (bin_dir / "azd").write_text(FAKE_AZD)
    (bin_dir / "azd").chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "AZD_DIR": str(values)}


def run_hook(script: str, environment: dict[str, str]) -> str:
    done = subprocess.run(
        ["sh", str(HOOKS / script)], env=environment, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_the_hook_mints_a_first_key_that_administers_and_approves(
    azd: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    output = run_hook("preprovision.sh", azd)
    values = Path(azd["AZD_DIR"])
    key, entry = (values / "SYNC_ADMIN_API_KEY").read_text(), (values / "SYNC_ADMIN_API_KEY_DIGESTS").read_text()
    assert entry == hashlib.sha256(key.encode()).hexdigest() + ":admin+approver"
    assert len(key) >= 40 and key not in output  # the key is never printed to the deployment log
    assert (values / "SYNC_SECRET_ENCRYPTION_KEY").exists()
    for name in list(os.environ):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AzureWebJobsStorage__accountName", "stplaceholder")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", (values / "SYNC_SECRET_ENCRYPTION_KEY").read_text())
    monkeypatch.setenv("SYNC_API_KEYS", entry)
    first = Authenticator(load_settings()).from_api_key(key)
    assert first.is_admin and first.is_approver  # a new deployment's first mailboxes need an approver


def test_the_hook_keeps_the_keys_of_an_environment(azd: dict[str, str]) -> None:
    run_hook("preprovision.sh", azd)
    values = Path(azd["AZD_DIR"])
    first = {path.name: path.read_text() for path in values.iterdir()}
    assert "kept" in run_hook("ensure-admin-api-key.sh", azd)
    assert {path.name: path.read_text() for path in values.iterdir()} == first


# --- docs --------------------------------------------------------------------------------------------------------


def test_the_docs_name_only_the_roles_the_code_checks() -> None:
    for document in (DEPLOY_DOC, ROOT / "README.md"):
        named = set(ROLE_NAME.findall(document.read_text()))
        assert named <= {ADMIN_ROLE, READER_ROLE, APPROVER_ROLE}, f"{document.name} names roles the API never checks"
    assert {ADMIN_ROLE, READER_ROLE, APPROVER_ROLE} <= set(ROLE_NAME.findall(DEPLOY_DOC.read_text()))


def test_the_docs_explain_every_azd_variable() -> None:
    text = DEPLOY_DOC.read_text()
    missing = [name for name in main_parameters().values() if f"`{name}`" not in text]
    assert missing == []
    assert "`SYNC_ADMIN_API_KEY`" in text  # the first key, where the operator finds it
