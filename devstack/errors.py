"""Errors raised by the local dev stack.

One root class, so a test harness can catch "the stack is broken" separately from
failures of the code under test.
"""

from __future__ import annotations


class DevstackError(RuntimeError):
    """Root of every error the dev stack raises."""


class MissingDependencyError(DevstackError):
    """A server binary or OS account is not installed; the message says how to get it."""


class ServiceStartError(DevstackError):
    """A server did not come up (port never opened, or the process exited early)."""
