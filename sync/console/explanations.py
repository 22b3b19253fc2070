"""The not-tracked explanation on every console page that lists emails not tracked (a Jinja global).

A page includes ``_explanation.html`` with an :class:`~sync.model.ItemFailure`; the template asks
:func:`explain_not_tracked` for its explanation. One :class:`~sync.insights.facts.Explainer` serves the whole
request, so a page of 50 emails from a few senders reads each mailbox, owner and sender address once.
"""

from __future__ import annotations

from fastapi import Request
from jinja2 import Environment

from sync.console.services import services
from sync.insights.explain import Explanation
from sync.insights.facts import Explainer
from sync.model import ItemFailure

STATE_ATTRIBUTE = "not_tracked_explainer"


def explainer(request: Request) -> Explainer:
    found: Explainer | None = getattr(request.state, STATE_ATTRIBUTE, None)
    if found is None:
        context = services(request).context
        found = Explainer(context.store, context.settings)
        setattr(request.state, STATE_ATTRIBUTE, found)
    return found


def explain_not_tracked(request: Request, failure: ItemFailure) -> Explanation:
    return explainer(request).explain(failure)


def register(environment: Environment) -> None:
    environment.globals["explain_not_tracked"] = explain_not_tracked
