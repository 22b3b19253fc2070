#!/bin/sh
# azd preprovision hook: give this azd environment a first admin API key once.
# The key itself stays in the environment (.azure/<env>/.env, git-ignored) as SYNC_ADMIN_API_KEY, for the first
# call; only its SHA-256 digest (SYNC_ADMIN_API_KEY_DIGESTS) is deployed, into the Key Vault secret that the app
# reads as SYNC_API_KEYS. Later runs keep both. Add or revoke keys by editing SYNC_ADMIN_API_KEY_DIGESTS
# (comma-separated digests, ':reader' for read-only keys; `python -m sync new-api-key` makes one) and provisioning.
set -eu

if [ -n "$(azd env get-value SYNC_ADMIN_API_KEY_DIGESTS 2>/dev/null || true)" ]; then
    echo "SYNC_ADMIN_API_KEY_DIGESTS: kept (already set in this azd environment)"
    exit 0
fi

if command -v openssl >/dev/null 2>&1; then
    key=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')
    digest=$(printf '%s' "$key" | openssl dgst -sha256 -r | cut -d' ' -f1)
else
    key=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
    digest=$(printf '%s' "$key" | python3 -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
fi
azd env set SYNC_ADMIN_API_KEY "$key"
# The first key administers and approves: a new deployment has nobody else to approve its first mailboxes.
azd env set SYNC_ADMIN_API_KEY_DIGESTS "$digest:admin+approver"
echo "SYNC_ADMIN_API_KEY: created for this azd environment (read it with: azd env get-value SYNC_ADMIN_API_KEY)"
