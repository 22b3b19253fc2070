"""A Microsoft Graph mail endpoint for tests: stateful mailboxes behind Graph's real wire format, over HTTPS.

``server.GraphServer`` is the entry point; ``fixtures`` provides it (and the Entra ID stand-in whose tokens
it accepts) to pytest.
"""
