"""A stateful Exchange Web Services server for tests: the real SOAP wire format over HTTPS."""
