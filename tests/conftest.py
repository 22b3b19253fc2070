"""Shared pytest configuration: the real local servers and the store built on them."""

pytest_plugins = [
    "tests.stack_fixtures",
    "tests.store_fixtures",
    "tests.graph.fixtures",
    "tests.ews.fixtures",
    "tests.pop3.fixtures",
]
