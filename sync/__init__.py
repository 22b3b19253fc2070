"""Server-side email synchronization for Azure: mailboxes, CRM records and email activities."""
