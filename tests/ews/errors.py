"""The error every layer of the server raises for an EWS error condition, so state and rules need no XML."""

from __future__ import annotations


class StateError(Exception):
    """An EWS error condition; ``code`` is the ResponseCode the operations answer with."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
