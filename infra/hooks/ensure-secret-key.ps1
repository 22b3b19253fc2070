# azd preprovision hook (Windows): give this azd environment a SYNC_SECRET_ENCRYPTION_KEY once (base64 of 32
# random bytes). The key stays in the environment (.azure/<env>/.env), so every later `azd provision` writes the
# same value to Key Vault: a new key would make every stored mailbox secret unreadable.
$ErrorActionPreference = 'Stop'

$existing = azd env get-value SYNC_SECRET_ENCRYPTION_KEY 2>$null
if ($LASTEXITCODE -eq 0 -and $existing) {
    Write-Host 'SYNC_SECRET_ENCRYPTION_KEY: kept (already set in this azd environment)'
    exit 0
}

$bytes = [byte[]]::new(32)
[System.Security.Cryptography.RandomNumberGenerator]::Fill($bytes)
azd env set SYNC_SECRET_ENCRYPTION_KEY ([Convert]::ToBase64String($bytes))
Write-Host 'SYNC_SECRET_ENCRYPTION_KEY: created for this azd environment'
