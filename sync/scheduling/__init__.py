"""Which mailboxes are due, who holds each one (leases), and when each is looked at next."""
