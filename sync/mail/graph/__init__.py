"""Microsoft Graph for Exchange Online mailboxes, which lose EWS: a thin HTTP client and its typed errors.

``client.GraphClient`` speaks Graph's JSON over one pooled ``requests`` session per process and never sleeps;
``errors`` maps Graph's answers onto the mail error classes the health policy understands.
"""
