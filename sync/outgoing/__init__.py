"""Outgoing email: SendEmail (``submit``), the queue-triggered sender (``sender``) and the outbox sweep
(``sweep``); pure stages for tracking tokens, composing, SMTP replies and the send state machine
(``tokens``, ``compose``, ``replies``, ``state``). The guarantee is written down in docs/outgoing.md."""
