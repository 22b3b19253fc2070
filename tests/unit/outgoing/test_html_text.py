"""HTML to text: what the text alternative keeps, and linear cost on markup that stalls ``html.parser``."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from bench.hostile_messages import html_unclosed_constructs
from sync.outgoing.html_text import html_to_text

# Each pattern made Python 3.11.7's html.parser rescan its buffer (CVE-2025-6069) or slowed it down.
HOSTILE_UNITS = ["<!--", "</", "<![", "<!", "<?", "<a", '<a "', "<a b='x' c=\"", "<!--x</a <![CDATA[ <?"]
CPU_SECONDS_FOR_200_KB = 3.0  # measured at most 0.15 s on the 2-core CI machine: 20x headroom


def test_keeps_paragraphs() -> None:
    assert html_to_text("<p>One</p><p>Two<br>Three</p><style>p{}</style>") == "One\n\nTwo\nThree\n"


def test_list_items_get_a_dash() -> None:
    assert html_to_text("<ul><li>a</li><li>b</li></ul>") == "- a\n\n- b\n"


def test_entities_are_decoded() -> None:
    assert html_to_text("<p>Fish &amp; chips &lt;3 &#8364;5</p>") == "Fish & chips <3 €5\n"


def test_script_content_is_dropped_even_with_markup_inside() -> None:
    assert html_to_text('<p>a</p><script>if (x<b) { s = "</p>" }</script><p>c</p>') == "a\n\nc\n"


def test_head_and_title_are_dropped() -> None:
    assert html_to_text("<html><head><title>T</title></head><body>Body</body></html>") == "Body\n"


def test_attributes_with_angle_brackets_are_not_text() -> None:
    assert html_to_text("<a title=\"x > y\" href='#'>link</a>") == "link\n"


def test_unclosed_comment_swallows_the_rest() -> None:
    assert html_to_text("<p>kept</p><!-- never closed <p>hidden</p>") == "kept\n"


def test_marked_sections_that_crash_html_parser_are_read() -> None:
    assert html_to_text("<p>x</p><![<![<![<!") == "x\n"


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_hostile_markup_costs_linear_time(unit: str) -> None:
    markup = "<p>hello</p>" + unit * (200_000 // len(unit))
    started = time.process_time()
    html_to_text(markup)
    assert time.process_time() - started < CPU_SECONDS_FOR_200_KB


def test_generated_cve_body_converts() -> None:
    assert html_to_text(html_unclosed_constructs(100_000)) == "hello\n"


def _imports_html_parser(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(alias.name == "html.parser" for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (
            node.module == "html.parser" or (node.module == "html" and any(a.name == "parser" for a in node.names))
        ):
            return True
    return False


def test_no_module_of_the_service_imports_html_parser() -> None:
    """The service must not depend on the platform's Python patch level for CVE-2025-6069."""
    service = Path(__file__).resolve().parents[3] / "sync"
    assert [p.name for p in sorted(service.rglob("*.py")) if _imports_html_parser(p)] == []
