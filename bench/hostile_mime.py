"""Benchmark: the crafted messages of the hardening issue through the real parser, each bounded.

Each case runs in its own process (so one case's memory does not hide another's): the process CPU time
of the parse, the peak memory it traced (tracemalloc, a second run) and the process's peak RSS, next to
the same figures for a well-formed message of the same size parsed the same way (the baseline: one
base64 attachment). ``ratio`` is the worst case's CPU time over its baseline's: at most about 1 means a
crafted message costs no more than an honest one of its size. The HTML case times ``html_to_text`` on
the CVE-2025-6069 markup against ordinary HTML of the same length. The last line is one JSON object
(ARCHITECTURE.md §8).

    python -m bench.hostile_mime
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench import hostile_messages as hostile
from sync.mail.mime import parse_message
from sync.mail.mime_guards import MimeLimits
from sync.outgoing.html_text import html_to_text
from sync.settings import Settings

MB = 1024 * 1024
_DEFAULTS = Settings.model_fields
MAX_BYTES: int = _DEFAULTS["max_incoming_email_bytes"].default
TIMEOUT_S: float = _DEFAULTS["mime_parse_timeout_seconds"].default
LIMITS = MimeLimits(_DEFAULTS["mime_max_parts"].default, _DEFAULTS["mime_max_attachments"].default)

# The cases, at the sizes it reports.
MESSAGES: dict[str, Callable[[], bytes]] = {
    "rfc2231_200k_sections": lambda: hostile.rfc2231_continuations(200_000),
    "rfc2231_200k_sections_folded": lambda: hostile.rfc2231_continuations(200_000, folded=True),
    "qp_soft_breaks_100mb": lambda: hostile.quoted_printable_soft_breaks(100 * MB),
    "tnef_500k_attachments": lambda: hostile.tnef_attachments(500_000),
    "mime_50k_parts": lambda: hostile.many_parts(50_000),
}
HTML_CASE = "html_cve_2025_6069_100kb"
HTML_CHARS = 100 * 1024
PLAIN_HTML_UNIT = "<p>An ordinary paragraph of text with <b>bold</b> words.</p>\n"


def _parse(raw: bytes) -> Callable[[], Any]:
    return lambda: parse_message(raw, max_bytes=MAX_BYTES, max_nesting=20, timeout_seconds=TIMEOUT_S, limits=LIMITS)


def _work(case: str, baseline: bool) -> tuple[int, Callable[[], Any]]:
    """The input size and the call to measure for one case (or its baseline)."""
    if case == HTML_CASE:
        markup = hostile.html_unclosed_constructs(HTML_CHARS)
        if baseline:
            markup = (PLAIN_HTML_UNIT * (len(markup) // len(PLAIN_HTML_UNIT) + 1))[: len(markup)]
        return len(markup), lambda: html_to_text(markup)
    raw = MESSAGES[case]()
    return len(raw), _parse(hostile.normal_message(len(raw)) if baseline else raw)


def measure_one(case: str, baseline: bool) -> dict[str, Any]:
    """Run in a child process: CPU time, traced peak and peak RSS of one case."""
    size, call = _work(case, baseline)
    started = time.process_time()
    result = call()
    cpu_s = time.process_time() - started
    tracemalloc.start()
    call()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    figures: dict[str, Any] = {
        "bytes": size,
        "cpu_s": round(cpu_s, 4),
        "traced_peak_mb": round(traced_peak / MB, 1),
        "traced_peak_per_byte": round(traced_peak / size, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if not isinstance(result, str):
        figures |= {"cut_short": result.cut_short, "attachments": len(result.attachments)}
    return figures


def in_child(case: str, baseline: bool) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.hostile_mime", "--one", case] + (["--baseline"] if baseline else [])
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(args.one, args.baseline)))
        return 0
    cases: dict[str, Any] = {}
    for case in [*MESSAGES, HTML_CASE]:
        crafted, base = in_child(case, False), in_child(case, True)
        crafted |= {
            "baseline_cpu_s": base["cpu_s"],
            "baseline_traced_peak_per_byte": base["traced_peak_per_byte"],
            "baseline_peak_rss_mb": base["peak_rss_mb"],
            "cpu_ratio": round(crafted["cpu_s"] / max(base["cpu_s"], 1e-4), 3),
        }
        cases[case] = crafted
        print(f"{case}: {json.dumps(crafted)}", file=sys.stderr, flush=True)
    worst = max(cases, key=lambda name: cases[name]["cpu_s"])
    print(json.dumps({
        "benchmark": "hostile_mime", "n": len(cases), "worst_case": worst, "cpu_s": cases[worst]["cpu_s"],
        "baseline": "a well-formed message (or HTML) of the same size",
        "baseline_cpu_s": cases[worst]["baseline_cpu_s"],
        "ratio": cases[worst]["cpu_ratio"], "peak_rss_mb": max(c["peak_rss_mb"] for c in cases.values()),
        "max_traced_peak_per_byte": max(c["traced_peak_per_byte"] for c in cases.values()),
        "parse_timeout_s": TIMEOUT_S, "cases": cases,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
