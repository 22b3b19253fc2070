#!/bin/sh
# azd preprovision hook: give this azd environment a SYNC_SECRET_ENCRYPTION_KEY once (base64 of 32 random bytes).
# The key stays in the environment (.azure/<env>/.env), so every later `azd provision` writes the same value to
# Key Vault: a new key would make every stored mailbox secret unreadable.
set -eu

if [ -n "$(azd env get-value SYNC_SECRET_ENCRYPTION_KEY 2>/dev/null || true)" ]; then
    echo "SYNC_SECRET_ENCRYPTION_KEY: kept (already set in this azd environment)"
    exit 0
fi

if command -v openssl >/dev/null 2>&1; then
    key=$(openssl rand -base64 32)
else
    key=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
fi
azd env set SYNC_SECRET_ENCRYPTION_KEY "$key"
echo "SYNC_SECRET_ENCRYPTION_KEY: created for this azd environment"
