"""Mailbox lifecycle: provisioning, address changes, forward mailboxes and processing eligibility."""
