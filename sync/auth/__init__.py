"""Credentials: secret encryption at rest (and, later, MSAL token acquisition)."""
