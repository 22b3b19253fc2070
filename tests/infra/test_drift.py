"""Code and infrastructure agree: storage names, app settings, runtime version and timeout.

The expected names and settings are read from the code (sync/store/names.py, sync/settings.py) at test time, so
a name or setting added there fails these tests until infra/ has it too.
"""

from pathlib import Path

from sync.settings import Settings, setting_names
from sync.store.names import Container, Queue, Table
from tests.infra.iac import (
    CONTAINER_TYPE,
    INFRA,
    QUEUE_TYPE,
    TABLE_TYPE,
    Reference,
    app_settings,
    copy_infra,
    edit,
    host_timeout_seconds,
    project_python,
    required_settings,
    runtime_problems,
    settings_problems,
    storage_names,
    storage_problems,
)


def storage_module(infra: Path) -> Path:
    return infra / "modules" / "storage.bicep"


def app_module(infra: Path) -> Path:
    return infra / "modules" / "functionapp.bicep"


# --- storage names ---------------------------------------------------------------------------------------------


def test_every_table_queue_and_container_of_the_code_is_created() -> None:
    assert storage_problems(INFRA) == []


def test_the_names_are_read_from_the_bicep_loops() -> None:
    found, problems = storage_names(INFRA)
    assert problems == []
    assert {str(t) for t in Table} <= found[TABLE_TYPE]
    assert {"mailbox-work-poison", "outgoing-mail-poison"} <= found[QUEUE_TYPE]  # poison queues too
    assert {str(c) for c in Container} | {"app-package"} <= found[CONTAINER_TYPE]  # and the deployment package


def test_a_missing_queue_fails(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(storage_module(infra), "  'outgoing-mail-poison'\n", "")
    assert storage_problems(infra) == [
        "queue 'outgoing-mail-poison' is used by the code (sync/store/names.py) but not created in infra/"
    ]


def test_a_missing_table_and_container_fail(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(storage_module(infra), "  'AddressIndex'\n", "")
    edit(storage_module(infra), "  'quarantine'\n", "")
    problems = storage_problems(infra)
    assert len(problems) == 2
    assert problems[0].startswith("table 'AddressIndex' is used by the code")
    assert problems[1].startswith("container 'quarantine' is used by the code")


def test_a_name_added_to_the_code_fails_until_infra_has_it() -> None:
    problems = storage_problems(INFRA, queues=[*Queue, "new-queue"], tables=[*Table, "NewTable"])
    assert problems == [
        "table 'NewTable' is used by the code (sync/store/names.py) but not created in infra/",
        "queue 'new-queue' is used by the code (sync/store/names.py) but not created in infra/",
    ]


def test_an_unreadable_name_is_a_problem_not_a_pass(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(storage_module(infra), "name: containerName\n", "name: '${containerName}-x'\n")
    problems = storage_problems(infra)
    assert problems[0].startswith("storage.bicep: cannot read the names of containers")
    assert len(problems) == 1 + len(Container)


# --- app settings ----------------------------------------------------------------------------------------------


def test_every_setting_of_the_code_is_set_and_accepted() -> None:
    assert settings_problems(INFRA) == []


def test_settings_are_identity_based_with_a_key_vault_reference() -> None:
    settings, problems = app_settings(INFRA)
    assert problems == []
    assert settings["AzureWebJobsStorage__accountName"] == Reference("storageAccountName")
    assert "AzureWebJobsStorage" not in settings
    assert str(settings["SYNC_SECRET_ENCRYPTION_KEY"]).startswith("@Microsoft.KeyVault(SecretUri=")
    assert settings["SYNC_STORAGE_PREFIX"] == ""
    names = setting_names()
    assert all(sum(name in settings for name in names[field]) == 1 for field in required_settings())


def test_only_optional_settings_may_stay_unset() -> None:
    optional = set(Settings.model_fields) - set(required_settings())
    assert "storage_connection_string" in optional  # refused instead: the identity is used
    assert all(Settings.model_fields[name].default is None for name in optional)
    assert {"secret_encryption_key", "storage_account_name", "storage_prefix"} <= set(required_settings())


def test_a_removed_setting_fails(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(app_module(infra), "  SYNC_MAX_EMAILS_PER_CYCLE: '100'\n", "")
    assert settings_problems(infra) == [
        "setting SYNC_MAX_EMAILS_PER_CYCLE (Settings.max_emails_per_cycle) is not set by infra/"
    ]


def test_a_connection_string_fails(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(
        app_module(infra),
        "  AzureWebJobsStorage__credential: 'managedidentity'\n",
        "  AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=eA=='\n",
    )
    problems = settings_problems(infra)
    assert problems[0] == (
        "AzureWebJobsStorage is set: storage must be reached with the identity, not a connection string"
    )
    assert "exactly one" in problems[1]  # and the app itself refuses both targets


def test_a_plain_encryption_key_fails(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(
        app_module(infra),
        "'@Microsoft.KeyVault(SecretUri=${secretEncryptionKeyUri})'",
        "'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='",
    )
    assert settings_problems(infra) == [
        "SYNC_SECRET_ENCRYPTION_KEY must be a Key Vault reference: @Microsoft.KeyVault(SecretUri=...)"
    ]


def test_a_value_the_app_refuses_fails(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(app_module(infra), "SYNC_MAILBOX_SCHEDULE: '0 */1 * * * *'", "SYNC_MAILBOX_SCHEDULE: '*/1 * * * *'")
    (problem,) = settings_problems(infra)
    assert problem.startswith("the app refuses the settings of infra/: ")
    assert "SYNC_MAILBOX_SCHEDULE" in problem and "six-field NCRONTAB" in problem


def test_a_timeout_other_than_host_json_fails(tmp_path: Path) -> None:
    assert host_timeout_seconds() == 600
    infra = copy_infra(tmp_path)
    edit(app_module(infra), "SYNC_FUNCTION_TIMEOUT_SECONDS: '600'", "SYNC_FUNCTION_TIMEOUT_SECONDS: '900'")
    assert settings_problems(infra) == ["SYNC_FUNCTION_TIMEOUT_SECONDS is 900 but host.json functionTimeout is 600 s"]


def test_a_prefix_or_a_flex_rejected_setting_fails(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(
        app_module(infra),
        "SYNC_STORAGE_PREFIX: ''",
        "SYNC_STORAGE_PREFIX: 'prod'\n  FUNCTIONS_WORKER_RUNTIME: 'python'",
    )
    assert settings_problems(infra) == [
        "FUNCTIONS_WORKER_RUNTIME is set: the Flex Consumption plan does not accept it (use functionAppConfig)",
        "SYNC_STORAGE_PREFIX must be empty: infra/ creates the storage names without a prefix",
    ]


# --- runtime -----------------------------------------------------------------------------------------------------


def test_the_runtime_is_the_python_of_the_project() -> None:
    assert project_python() == "3.11"
    assert runtime_problems(INFRA) == []


def test_another_python_version_fails(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(app_module(infra), "var pythonVersion = '3.11'", "var pythonVersion = '3.12'")
    assert runtime_problems(infra) == ["functionAppConfig.runtime.version is '3.12' but the project's Python is '3.11'"]


def test_a_project_moving_to_another_python_fails_until_infra_follows() -> None:
    assert runtime_problems(INFRA, python="3.12") == [
        "functionAppConfig.runtime.version is '3.11' but the project's Python is '3.12'"
    ]
