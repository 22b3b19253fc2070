"""Every .bicep file under infra/ parses, with pycep-parser and with tree-sitter-bicep."""

from pathlib import Path

import pytest

from tests.infra import iac
from tests.infra.iac import INFRA, bicep_files, copy_infra, edit, parse_problems


def test_every_bicep_file_parses() -> None:
    files = {path.relative_to(INFRA).as_posix() for path in bicep_files(INFRA)}
    assert {"main.bicep", "modules/storage.bicep", "modules/functionapp.bicep"} <= files
    assert parse_problems(INFRA) == []


def test_a_syntax_error_fails_with_its_line(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    # An unclosed object: the resource group loses its closing brace.
    edit(infra / "main.bicep", "  tags: tags\n}\n\nmodule monitoring", "  tags: tags\n\nmodule monitoring")
    problems = parse_problems(infra)
    assert problems, "a broken main.bicep parsed"
    assert all(problem.startswith("main.bicep: ") for problem in problems)
    assert any(problem.startswith("main.bicep: pycep-parser:") and "line" in problem for problem in problems)
    assert any(problem.startswith("main.bicep: tree-sitter-bicep:") and "line" in problem for problem in problems)


def test_a_broken_module_is_found_too(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(infra / "modules" / "keyvault.bicep", "param location string", "param location string =")
    assert [p.split(":")[0] for p in parse_problems(infra)] == ["modules/keyvault.bicep"] * 2


def test_no_bicep_file_is_a_failure(tmp_path: Path) -> None:
    assert parse_problems(tmp_path) == [f"no .bicep file under {tmp_path}"]


def test_a_missing_tool_fails_and_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(iac, "IAC_BIN", tmp_path / "bin")
    with pytest.raises(pytest.fail.Exception, match=r"python is missing: run `make setup`"):
        parse_problems(INFRA)
