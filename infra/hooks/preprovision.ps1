# azd preprovision (Windows): the secrets an environment makes once and keeps (see each script).
$ErrorActionPreference = 'Stop'
& "$PSScriptRoot/ensure-secret-key.ps1"
& "$PSScriptRoot/ensure-admin-api-key.ps1"
