"""Error classification, retry and disable policy, alerts and mailbox health."""
