# azd preprovision hook (Windows): give this azd environment a first admin API key once.
# The key stays in the environment (.azure/<env>/.env) as SYNC_ADMIN_API_KEY; only its SHA-256 digest
# (SYNC_ADMIN_API_KEY_DIGESTS) is deployed, into the Key Vault secret that the app reads as SYNC_API_KEYS.
$ErrorActionPreference = 'Stop'

$existing = azd env get-value SYNC_ADMIN_API_KEY_DIGESTS 2>$null
if ($LASTEXITCODE -eq 0 -and $existing) {
    Write-Host 'SYNC_ADMIN_API_KEY_DIGESTS: kept (already set in this azd environment)'
    exit 0
}

$bytes = [byte[]]::new(32)
[System.Security.Cryptography.RandomNumberGenerator]::Fill($bytes)
$key = [Convert]::ToBase64String($bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_')
$hash = [System.Security.Cryptography.SHA256]::HashData([System.Text.Encoding]::UTF8.GetBytes($key))
$digest = ([System.BitConverter]::ToString($hash) -replace '-', '').ToLowerInvariant()
azd env set SYNC_ADMIN_API_KEY $key
# The first key administers and approves: a new deployment has nobody else to approve its first mailboxes.
azd env set SYNC_ADMIN_API_KEY_DIGESTS "$($digest):admin+approver"
Write-Host 'SYNC_ADMIN_API_KEY: created for this azd environment (read it with: azd env get-value SYNC_ADMIN_API_KEY)'
