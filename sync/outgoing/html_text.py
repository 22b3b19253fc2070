"""HTML to readable plain text in one linear pass, without ``html.parser``.

``html.parser`` rescans its whole buffer for every unclosed ``<!--``, ``</`` or ``<![`` it meets: before
Python 3.11.13 (CVE-2025-6069) 100 KB of them cost 64 CPU-seconds, and some sequences (``<![<![``) make
it raise ``AssertionError``. The bodies converted here come from users and from Exchange, so the
converter is a tokenizer whose every token either ends where the text resumes or runs to the end of the
input (an unclosed comment or declaration swallows the rest, as a browser does): each character is read
a bounded number of times, whatever the markup.

What it keeps: the text, with entities decoded; a line break around block elements and ``- `` before
list items; nothing of ``script``, ``style``, ``head`` or ``title``.
"""

from __future__ import annotations

import html
import re

BLOCKS = frozenset({"p", "div", "br", "li", "tr", "table", "ul", "ol", "hr", "blockquote", "pre", "section"})
BLOCKS |= frozenset(f"h{n}" for n in range(1, 7))
SKIPPED = frozenset({"script", "style", "head", "title"})
RAW_TEXT = frozenset({"script", "style"})  # their content is not markup: it runs to the matching end tag

# One token per match; the alternatives start differently, the repeats are possessive (no backtracking
# stack), and an unclosed construct matches up to the end of the input (\Z) instead of failing and being
# rescanned.
_TOKEN = re.compile(
    r"""
    (?P<comment> <!--.*?(?:-->|\Z) )
  | (?P<declaration> <[!?][^>]*>? )
  | (?P<tag> <(?P<end>/?)(?P<name>[A-Za-z][A-Za-z0-9:-]*)(?:[^>"']++|"[^"]*+"|'[^']*+')*+>? )
  | (?P<text> [^<]+ | < )
    """,
    re.DOTALL | re.VERBOSE,
)
_RAW_TEXT_END = {name: re.compile(rf"</{name}\b[^>]*>?|\Z", re.IGNORECASE) for name in RAW_TEXT}


def _pieces(markup: str) -> list[str]:
    """The text and the line breaks of ``markup``, in order."""
    pieces: list[str] = []
    skipping = 0
    pos = 0
    while pos < len(markup):
        token = _TOKEN.match(markup, pos)
        if token is None:  # pragma: no cover - the last alternative matches any character
            break
        pos = token.end()
        if token.group("text") is not None:
            if not skipping:
                pieces.append(html.unescape(token.group("text")))
            continue
        name = (token.group("name") or "").lower()
        if not name:
            continue  # a comment or a declaration
        closing = bool(token.group("end"))
        if name in SKIPPED:
            skipping = max(0, skipping - 1) if closing else skipping + 1
            if not closing and name in RAW_TEXT:
                end = _RAW_TEXT_END[name].search(markup, pos)
                pos = end.end() if end is not None else len(markup)
                skipping = max(0, skipping - 1)
        elif name in BLOCKS:
            pieces.append("\n- " if name == "li" and not closing else "\n")
    return pieces


def html_to_text(markup: str) -> str:
    """A readable plain-text version of an HTML body, for the text alternative."""
    lines = [" ".join(line.split()) for line in "".join(_pieces(markup)).splitlines()]
    text: list[str] = []
    for line in lines:
        if line or (text and text[-1]):
            text.append(line)
    return "\n".join(text).strip() + "\n"
