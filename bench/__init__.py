"""Benchmarks against the local stack; its servers listen on loopback, which mail connections may reach here."""

from sync.mail import egress

egress.configure(egress.EgressPolicy(allow_loopback=True))
