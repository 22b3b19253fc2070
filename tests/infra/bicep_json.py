"""Parse Bicep files with two independent parsers and print the result as JSON.

Runs in the IaC virtualenv (``.venv-iac``, from requirements-iac.txt), which has pycep-parser and tree-sitter-bicep;
the tests in this folder call it through a subprocess, since the app's ``.venv`` has neither::

    .venv-iac/bin/python tests/infra/bicep_json.py infra/main.bicep infra/modules/*.bicep

Output: ``{"<file>": {"errors": ["..."], "template": {...} | null}}``. ``template`` is pycep-parser's JSON
(parameters, variables, resources, modules, outputs). Both parsers check syntax only: no types, property names
or API versions (that needs the Bicep compiler, which is not installable offline).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import tree_sitter_bicep
from pycep import BicepParser
from tree_sitter import Language, Node, Parser


def _first_error(node: Node) -> Node | None:
    """The first node tree-sitter marks as an error or as missing, depth first."""
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        if child.has_error or child.is_missing:
            found = _first_error(child)
            if found is not None:
                return found
    return None


def parse(path: Path, bicep_parser: BicepParser, ts_parser: Parser) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    errors: list[str] = []
    template: dict[str, Any] | None = None
    try:
        template = bicep_parser.parse(text=text)
    except Exception as exc:  # lark raises several error types; each names the line and column
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        errors.append(f"pycep-parser: {type(exc).__name__}: {first_line}")
    root = ts_parser.parse(text.encode("utf-8")).root_node
    if root.has_error:
        bad = _first_error(root)
        where = f"line {bad.start_point[0] + 1}, column {bad.start_point[1] + 1}" if bad else "unknown position"
        what = f"missing {bad.type}" if bad is not None and bad.is_missing else "syntax error"
        errors.append(f"tree-sitter-bicep: {what} at {where}")
    return {"errors": errors, "template": template}


def main(argv: list[str]) -> int:
    bicep_parser = BicepParser()  # building the grammar is the slow part: one parser for every file
    ts_parser = Parser(Language(tree_sitter_bicep.language()))
    result = {name: parse(Path(name), bicep_parser, ts_parser) for name in argv}
    json.dump(result, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
