"""The incoming pipeline: pure stages (classify, dedupe, resolve, accept, correlate, owner) and the
service that runs them for one message and stores the result."""
