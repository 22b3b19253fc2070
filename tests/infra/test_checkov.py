"""checkov (offline) passes on infra/, with an explicit, justified skip list, and fails on insecure templates."""

from pathlib import Path

import pytest

from tests.infra.iac import (
    CHECKOV_CONFIG,
    INFRA,
    CheckovResult,
    checkov_skips,
    copy_infra,
    edit,
    run_checkov,
)

# The project's own rules (infra/policies) and the built-in checks behind the requirements.
REQUIRED_PASSES = {
    ("CKV2_SSS_1", "Microsoft.Storage/storageAccounts.account"),  # no public blob access
    ("CKV2_SSS_2", "Microsoft.Storage/storageAccounts.account"),  # no shared key access
    ("CKV2_SSS_3", "Microsoft.KeyVault/vaults.vault"),  # Key Vault with Azure RBAC
    ("CKV_AZURE_3", "Microsoft.Storage/storageAccounts.account"),  # HTTPS only
    ("CKV_AZURE_44", "Microsoft.Storage/storageAccounts.account"),  # TLS 1.2
    ("CKV_AZURE_70", "Microsoft.Web/sites.app"),  # Function App HTTPS only
    ("CKV_AZURE_145", "Microsoft.Web/sites.app"),  # Function App TLS 1.2
    ("CKV_AZURE_71", "Microsoft.Web/sites.app"),  # managed identity
    ("CKV_AZURE_110", "Microsoft.KeyVault/vaults.vault"),  # purge protection
}


@pytest.fixture(scope="module")
def report() -> CheckovResult:
    return run_checkov(INFRA)


def test_infra_passes_checkov(report: CheckovResult) -> None:
    assert report.problems() == []


def test_the_required_checks_ran_and_passed(report: CheckovResult) -> None:
    assert report.passed >= REQUIRED_PASSES


def test_every_skip_is_justified() -> None:
    skips = checkov_skips()
    assert skips, "no skip list found in infra/.checkov.yaml"
    for check, comments in skips.items():
        reasons = [c for c in comments if c.startswith(f"{check}:") and len(c.split(":", 1)[1].split()) >= 4]
        assert reasons, f"skip {check} in {CHECKOV_CONFIG.name} has no '# {check}: <reason>' comment above it"


def test_a_skip_without_a_reason_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "checkov.yaml"
    config.write_text(
        "framework:\n  - bicep\nskip-check:\n"
        "  # CKV_AZURE_1: a reason of several words\n  - CKV_AZURE_1\n\n"
        "  - CKV_AZURE_2\n"
    )
    assert checkov_skips(config) == {"CKV_AZURE_1": ["CKV_AZURE_1: a reason of several words"], "CKV_AZURE_2": []}


def test_every_skip_is_needed(tmp_path: Path) -> None:
    """Without the skip list, each skipped check fails: nothing is skipped that would pass anyway."""
    infra = copy_infra(tmp_path)
    # checkov also reads the .checkov.yaml of the folder it scans, so the copy's own file loses its skip list.
    unskipped = infra / CHECKOV_CONFIG.name
    unskipped.write_text(CHECKOV_CONFIG.read_text().split("\nskip-check:")[0] + "\n")
    failing = {check for check, _ in run_checkov(infra, config=unskipped).failed}
    assert set(checkov_skips()) - failing == set()


def test_insecure_templates_fail_for_their_reason(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    storage, vault, app = (infra / "modules" / f for f in ("storage.bicep", "keyvault.bicep", "functionapp.bicep"))
    edit(storage, "allowBlobPublicAccess: false", "allowBlobPublicAccess: true")
    edit(storage, "allowSharedKeyAccess: false", "allowSharedKeyAccess: true")
    edit(storage, "minimumTlsVersion: 'TLS1_2'", "minimumTlsVersion: 'TLS1_0'")
    edit(
        storage,
        "name: deploymentContainerName\n  properties: {\n    publicAccess: 'None'",
        "name: deploymentContainerName\n  properties: {\n    publicAccess: 'Blob'",
    )
    edit(vault, "enableRbacAuthorization: true", "enableRbacAuthorization: false")
    edit(app, "httpsOnly: true", "httpsOnly: false")
    edit(app, "    siteConfig: {\n      minTlsVersion: '1.2'", "    siteConfig: {\n      minTlsVersion: '1.0'")

    failed = run_checkov(infra).failed

    assert failed == {
        ("CKV2_SSS_1", "Microsoft.Storage/storageAccounts.account"),
        ("CKV2_SSS_2", "Microsoft.Storage/storageAccounts.account"),
        ("CKV_AZURE_44", "Microsoft.Storage/storageAccounts.account"),
        ("CKV_AZURE_34", "Microsoft.Storage/storageAccounts/blobServices/containers.deploymentContainer"),
        ("CKV2_SSS_3", "Microsoft.KeyVault/vaults.vault"),
        ("CKV_AZURE_70", "Microsoft.Web/sites.app"),
        ("CKV_AZURE_14", "Microsoft.Web/sites.app"),
        ("CKV_AZURE_153", "Microsoft.Web/sites.app"),
        ("CKV_AZURE_15", "Microsoft.Web/sites.app"),
        ("CKV_AZURE_145", "Microsoft.Web/sites.app"),
    }


def test_a_file_checkov_cannot_parse_is_a_failure(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(infra / "modules" / "monitoring.bicep", "param location string", "param location string =")
    problems = run_checkov(infra).problems()
    assert problems == [f"checkov could not parse {infra / 'modules' / 'monitoring.bicep'}"]
