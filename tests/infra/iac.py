"""The infrastructure checks: Bicep syntax, checkov, and drift between the code and ``infra/``.

Each check takes an infrastructure folder and returns a list of problems (empty when all is well), so the tests can
run it on ``infra/`` and on a deliberately broken copy and assert *which* problem it reports.

The IaC tools live in their own virtualenv, ``.venv-iac`` (``make setup`` installs requirements-iac.txt there), and
are called through subprocesses. A missing tool fails the test with the command that installs it; it never skips.

Reading Bicep: pycep-parser turns a file into JSON. Its limits, and how this module copes:

* A string literal and a reference to a parameter or variable come out alike (``'name'`` and ``name`` are both
  ``"name"``). :meth:`Template.resolve` treats a string that is the name of a variable as that variable's value
  and the name of a parameter as a :class:`Reference` (its value comes from the caller). A literal that happens
  to equal a variable or parameter name would be misread; names here don't collide.
* Only the shapes this repository uses are understood: literal names, names from a variable, and ``for`` loops
  over a variable array (storage names) or over ``items()`` of a variable object (app settings). Anything else is
  reported as a problem ("cannot read ..."), never silently passed.
* Values built from expressions (interpolation, function calls) stay as pycep's text or JSON; the checks only
  need to know that such a setting is present, plus a few exact values that are plain literals.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from sync.errors import ConfigurationError
from sync.settings import AES_KEY_BYTES, Settings, load_settings, setting_names
from sync.store.names import Container, Queue, Table

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
IAC_BIN = ROOT / ".venv-iac" / "bin"
CHECKOV_CONFIG = INFRA / ".checkov.yaml"
CHECKOV_POLICIES = INFRA / "policies"
BICEP_JSON = Path(__file__).with_name("bicep_json.py")

TABLE_TYPE = "Microsoft.Storage/storageAccounts/tableServices/tables"
QUEUE_TYPE = "Microsoft.Storage/storageAccounts/queueServices/queues"
CONTAINER_TYPE = "Microsoft.Storage/storageAccounts/blobServices/containers"
SITE_TYPE = "Microsoft.Web/sites"

KEY_VAULT_REFERENCE = re.compile(r"^@Microsoft\.KeyVault\((SecretUri=|VaultName=).+\)$")
# App settings the Flex Consumption plan rejects or ignores; the runtime is set in functionAppConfig instead.
FLEX_REJECTED_SETTINGS = (
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
)
HOST_STORAGE_ACCOUNT_SETTING = "AzureWebJobsStorage__accountName"


def iac_tool(name: str) -> Path:
    """A program of the IaC virtualenv, or a test failure that says how to install it."""
    path = IAC_BIN / name
    if not path.exists():
        pytest.fail(
            f"{path} is missing: run `make setup` (it installs requirements-iac.txt into .venv-iac)",
            pytrace=False,
        )
    return path


def bicep_files(infra: Path) -> list[Path]:
    return sorted(infra.rglob("*.bicep"))


def copy_infra(destination: Path) -> Path:
    """A copy of ``infra/`` to break on purpose."""
    target = destination / "infra"
    shutil.copytree(INFRA, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace exactly one occurrence of ``old`` (so a test can't silently edit nothing)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- parsing ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A value that comes from a parameter: known only at deployment."""

    parameter: str


@dataclass
class Template:
    """One parsed Bicep file."""

    path: Path
    data: dict[str, Any]

    @property
    def variables(self) -> dict[str, Any]:
        return {name: spec.get("value") for name, spec in (self.data.get("variables") or {}).items()}

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.data.get("parameters") or {})

    def resources(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(symbolic name, pycep config) of each resource of a type that this file creates (not ``existing``)."""
        for name, spec in (self.data.get("resources") or {}).items():
            if spec.get("type") == resource_type and not spec.get("existing"):
                config = spec["config"]
                if "condition" in config and "loop_type" not in config:  # `= if (...) {...}`: unwrap
                    config = config["config"]
                yield name, config

    def resolve(self, value: Any) -> Any:
        """A variable's value for its name, a :class:`Reference` for a parameter's name, else the value itself."""
        seen: set[str] = set()
        while isinstance(value, str) and value not in seen:
            seen.add(value)
            if value in self.variables:
                value = self.variables[value]
            elif value in self.parameters:
                return Reference(value)
            else:
                break
        return value


@dataclass
class Parsed:
    path: Path
    errors: list[str]
    template: Template | None


def parse_bicep(paths: Iterable[Path]) -> dict[Path, Parsed]:
    """Parse with pycep-parser and tree-sitter-bicep in the IaC virtualenv."""
    files = list(paths)
    if not files:
        return {}
    proc = subprocess.run(
        [str(iac_tool("python")), str(BICEP_JSON), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"bicep_json.py failed:\n{proc.stderr}"
    raw: dict[str, Any] = json.loads(proc.stdout)
    parsed: dict[Path, Parsed] = {}
    for name, result in raw.items():
        path = Path(name)
        data = result["template"]
        parsed[path] = Parsed(path, list(result["errors"]), Template(path, data) if data is not None else None)
    return parsed


def parse_problems(infra: Path) -> list[str]:
    """Every .bicep file must parse with both parsers."""
    files = bicep_files(infra)
    if not files:
        return [f"no .bicep file under {infra}"]
    return [f"{p.path.relative_to(infra)}: {error}" for p in parse_bicep(files).values() for error in p.errors]


_parsed_cache: dict[tuple[tuple[Path, str], ...], dict[Path, Parsed]] = {}


def templates(infra: Path) -> list[Template]:
    """Every template under ``infra``; a file that doesn't parse fails the calling test.

    Parsed once per content: the drift checks read the same files several times.
    """
    files = bicep_files(infra)
    key = tuple((path, path.read_text(encoding="utf-8")) for path in files)
    if key not in _parsed_cache:
        _parsed_cache[key] = parse_bicep(files)
    parsed = _parsed_cache[key]
    broken = [f"{p.path}: {p.errors}" for p in parsed.values() if p.errors or p.template is None]
    assert not broken, f"Bicep files do not parse: {broken}"
    return [p.template for p in parsed.values() if p.template is not None]


# --- checkov ---------------------------------------------------------------------------------------------------


@dataclass
class CheckovResult:
    failed: set[tuple[str, str]] = field(default_factory=set)  # (check id, resource)
    passed: set[tuple[str, str]] = field(default_factory=set)
    parsing_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = [f"checkov failed {check} for {resource}" for check, resource in sorted(self.failed)]
        found += [f"checkov could not parse {path}" for path in self.parsing_errors]
        if not self.passed and not self.failed:
            found.append("checkov ran no check: did it find the .bicep files?")
        return found


def run_checkov(infra: Path, config: Path = CHECKOV_CONFIG) -> CheckovResult:
    """checkov offline, with the repository's config (skip list) and policies (infra/policies)."""
    command = [
        str(iac_tool("checkov")),
        "--config-file",
        str(config),
        "--directory",
        str(infra),
        "--external-checks-dir",
        str(CHECKOV_POLICIES),
        "--framework",
        "bicep",
        "--skip-download",
        "--output",
        "json",
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert proc.returncode in (0, 1), f"checkov crashed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout)
    if isinstance(report, list):  # one report per framework; only bicep runs here
        (report,) = report
    results: dict[str, Any] = report.get("results", {})
    result = CheckovResult(parsing_errors=[str(p) for p in results.get("parsing_errors", [])])
    for check in results.get("failed_checks", []):
        result.failed.add((check["check_id"], check["resource"]))
    for check in results.get("passed_checks", []):
        result.passed.add((check["check_id"], check["resource"]))
    # checkov exits 1 exactly when a check failed; anything else means the JSON above was misread.
    assert (proc.returncode == 1) == bool(result.failed), f"checkov exit {proc.returncode} vs {result.failed}"
    return result


def checkov_skips(config: Path = CHECKOV_CONFIG) -> dict[str, list[str]]:
    """Each skipped check id of the checkov config, with the comment lines just above it (its justification)."""
    skips: dict[str, list[str]] = {}
    comments: list[str] = []
    in_skip_list = False
    for line in config.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not line.startswith((" ", "-", "#")) and stripped:
            in_skip_list = stripped.startswith("skip-check:")
            comments = []
        elif in_skip_list and stripped.startswith("#"):
            comments.append(stripped.lstrip("# "))
        elif in_skip_list and stripped.startswith("- "):
            skips[stripped[2:].split("#")[0].strip()] = comments
            comments = []
        elif not stripped:
            comments = []
    return skips


# --- drift between code and infrastructure ---------------------------------------------------------------------


def _names(template: Template, resource: str, config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(names, problems) of one storage resource: a literal name, a variable, or a loop over a variable array."""
    loop = config.get("loop_type")
    if loop is None:
        name = template.resolve(config.get("name"))
        if isinstance(name, str):
            return [name], []
        return [], [f"{template.path.name}: cannot read the name of {resource}: {config.get('name')!r}"]
    detail = loop.get("detail") or {}
    items = template.resolve(detail.get("array_name"))
    inner = config.get("config") or {}
    if loop.get("type") == "array" and isinstance(items, list) and inner.get("name") == detail.get("item_name"):
        names = [template.resolve(item) for item in items]
        if all(isinstance(n, str) for n in names):
            return [str(n) for n in names], []
    return [], [f"{template.path.name}: cannot read the names of {resource} (loop {loop!r})"]


def storage_names(infra: Path) -> tuple[dict[str, set[str]], list[str]]:
    """Tables, queues and containers that the Bicep files create, by resource type, and any reading problems."""
    found: dict[str, set[str]] = {TABLE_TYPE: set(), QUEUE_TYPE: set(), CONTAINER_TYPE: set()}
    problems: list[str] = []
    for template in templates(infra):
        for resource_type, names in found.items():
            for resource, config in template.resources(resource_type):
                got, trouble = _names(template, resource, config)
                names.update(got)
                problems += trouble
    return found, problems


def storage_problems(
    infra: Path,
    tables: Iterable[str] = tuple(Table),
    queues: Iterable[str] = tuple(Queue),
    containers: Iterable[str] = tuple(Container),
) -> list[str]:
    """Every table, queue and container of ``sync/store/names.py`` must be created by the Bicep files."""
    found, problems = storage_names(infra)
    for kind, resource_type, expected in (
        ("table", TABLE_TYPE, tables),
        ("queue", QUEUE_TYPE, queues),
        ("container", CONTAINER_TYPE, containers),
    ):
        for name in sorted(set(map(str, expected)) - found[resource_type]):
            problems.append(f"{kind} {name!r} is used by the code (sync/store/names.py) but not created in infra/")
    return problems


def function_app(infra: Path) -> tuple[Template, dict[str, Any]]:
    """The one Function App (``Microsoft.Web/sites``) of the templates, with the file that declares it."""
    sites = [(t, config) for t in templates(infra) for _, config in t.resources(SITE_TYPE)]
    assert len(sites) == 1, f"expected one {SITE_TYPE} in {infra}, found {len(sites)}"
    return sites[0]


def app_settings(infra: Path) -> tuple[dict[str, Any], list[str]]:
    """The Function App's app settings (name to resolved value) and any reading problems.

    ``siteConfig.appSettings`` may be a list of ``{name, value}`` objects or
    ``[for s in items(someVariable): {name: s.key, value: s.value}]``.
    """
    template, config = function_app(infra)
    raw = ((config.get("properties") or {}).get("siteConfig") or {}).get("appSettings")
    if isinstance(raw, list):
        settings: dict[str, Any] = {}
        for item in raw:
            if isinstance(item, dict) and isinstance(template.resolve(item.get("name")), str):
                settings[template.resolve(item["name"])] = template.resolve(item.get("value"))
            else:
                return {}, [f"{template.path.name}: cannot read app setting {item!r}"]
        return settings, []
    if isinstance(raw, dict) and (raw.get("loop_type") or {}).get("type") == "object":
        detail = raw["loop_type"].get("detail") or {}
        source = template.resolve(detail.get("object_name"))
        if isinstance(source, dict):
            return {key.strip("'"): template.resolve(value) for key, value in source.items()}, []
    return {}, [f"{template.path.name}: cannot read siteConfig.appSettings: {raw!r}"]


def host_timeout_seconds(host_json: Path = ROOT / "host.json") -> int:
    hours, minutes, seconds = (int(part) for part in json.loads(host_json.read_text())["functionTimeout"].split(":"))
    return hours * 3600 + minutes * 60 + seconds


def required_settings() -> list[str]:
    """The fields of :class:`Settings` a deployment must set: all but the optional ones (default None).

    Of the two storage targets, the account name (identity) is required and the connection string is refused.
    """
    required = []
    for name, info in Settings.model_fields.items():
        if name == "storage_account_name" or (name != "storage_connection_string" and info.default is not None):
            required.append(name)
    return required


def settings_problems(infra: Path, host_json: Path = ROOT / "host.json") -> list[str]:
    """The app settings must cover every field of sync/settings.py, the identity way, with values it accepts."""
    settings, problems = app_settings(infra)
    if problems:
        return problems
    names = setting_names()
    for field_name in required_settings():
        env_names = names[field_name]
        if not any(name in settings for name in env_names):
            problems.append(f"setting {env_names[0]} (Settings.{field_name}) is not set by infra/")
    for name in names["storage_connection_string"]:
        if name in settings:
            problems.append(f"{name} is set: storage must be reached with the identity, not a connection string")
    if HOST_STORAGE_ACCOUNT_SETTING not in settings:
        problems.append(f"{HOST_STORAGE_ACCOUNT_SETTING} is not set: the Functions host needs it for its storage")
    for name in FLEX_REJECTED_SETTINGS:
        if name in settings:
            problems.append(f"{name} is set: the Flex Consumption plan does not accept it (use functionAppConfig)")
    key = settings.get("SYNC_SECRET_ENCRYPTION_KEY")
    if key is not None and not (isinstance(key, str) and KEY_VAULT_REFERENCE.match(key)):
        problems.append("SYNC_SECRET_ENCRYPTION_KEY must be a Key Vault reference: @Microsoft.KeyVault(SecretUri=...)")
    if settings.get("SYNC_STORAGE_PREFIX", "") != "":
        problems.append("SYNC_STORAGE_PREFIX must be empty: infra/ creates the storage names without a prefix")
    timeout = settings.get("SYNC_FUNCTION_TIMEOUT_SECONDS")
    if isinstance(timeout, str) and timeout.isdigit() and int(timeout) != host_timeout_seconds(host_json):
        problems.append(
            f"SYNC_FUNCTION_TIMEOUT_SECONDS is {timeout} but host.json functionTimeout is "
            f"{host_timeout_seconds(host_json)} s"
        )
    return problems + validation_problems(settings)


def validation_problems(settings: Mapping[str, Any]) -> list[str]:
    """Load the settings the way the app does, from these values alone; report what it refuses."""
    environment: dict[str, str] = {}
    for name, value in settings.items():
        if name == "SYNC_SECRET_ENCRYPTION_KEY":  # a Key Vault reference: stand in a valid key
            environment[name] = base64.b64encode(bytes(AES_KEY_BYTES)).decode()
        elif name == "SYNC_API_KEYS" and isinstance(value, str) and KEY_VAULT_REFERENCE.match(value):
            environment[name] = "0" * 64  # the digests come from Key Vault: stand in one valid digest
        elif name == HOST_STORAGE_ACCOUNT_SETTING and isinstance(value, Reference):
            environment[name] = "stplaceholder"
        elif isinstance(value, str | int | float | bool):
            environment[name] = str(value)
        # anything else comes from a parameter or an expression, known at deployment only: not checkable here
    with mock.patch.dict(os.environ, environment, clear=True):
        try:
            load_settings()
        except ConfigurationError as exc:
            return [f"the app refuses the settings of infra/: {exc}"]
    return []


def project_python(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """major.minor of the project's Python: the lower bound of requires-python (e.g. ">=3.11,<3.12")."""
    requires = tomllib.loads(pyproject.read_text())["project"]["requires-python"]
    match = re.search(r">=\s*(\d+\.\d+)", requires)
    assert match, f"cannot read a lower bound from requires-python = {requires!r}"
    return match.group(1)


def runtime_problems(infra: Path, python: str | None = None) -> list[str]:
    """The Function App runs Python, the version of the project."""
    python = python or project_python()
    template, config = function_app(infra)
    runtime = ((config.get("properties") or {}).get("functionAppConfig") or {}).get("runtime") or {}
    name, version = template.resolve(runtime.get("name")), template.resolve(runtime.get("version"))
    problems = []
    if name != "python":
        problems.append(f"functionAppConfig.runtime.name is {name!r}, not 'python'")
    if version != python:
        problems.append(f"functionAppConfig.runtime.version is {version!r} but the project's Python is {python!r}")
    return problems
