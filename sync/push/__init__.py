"""Push for Exchange Online: Graph change notifications wake a mailbox's cycle at once (docs/push.md)."""
