"""Credentials: secret encryption at rest, and app-only access tokens through MSAL."""
