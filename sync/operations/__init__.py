"""Operating the service: cycle history, "sync now", mailbox states and the organization summary."""
