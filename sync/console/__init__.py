"""The admin console: server-rendered pages on the admin API's own FastAPI app, under ``/console``.

Pages are Jinja2 templates (autoescaped) with plain HTML forms and a little own CSS and JavaScript served from
this package, so the console works in a tenant that blocks CDNs. People sign in with a server-side session
(:mod:`sync.console.sessions`): locally through the one-time link ``make dev`` prints, in Azure through Entra ID
(:mod:`sync.console.entra_signin`). The console calls the same functions as the API, never the API over HTTP,
and refuses every change from a caller without ``Sync.Admin`` (or ``Sync.Approver`` to approve), whatever the
page showed.
"""
