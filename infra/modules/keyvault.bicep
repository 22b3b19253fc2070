// Key Vault holding the secret-encryption key and the admin API key digests. The app reads both through Key Vault
// references in its app settings.

@minLength(3)
@maxLength(24)
param name string
param location string
param tags object = {}

@secure()
@description('Base64 of 32 random bytes (AES-256-GCM) that encrypts the mailbox secrets stored in Table storage.')
param secretEncryptionKey string

@secure()
@description('Comma-separated SHA-256 digests of the admin API keys (SYNC_API_KEYS); the keys themselves are never deployed.')
param adminApiKeyDigests string

var secretName = 'sync-secret-encryption-key'
var apiKeysSecretName = 'sync-api-keys'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // Access is granted with Azure roles (modules/roles.bicep), not with vault access policies.
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // Losing this key makes every stored mailbox secret unreadable, so a deleted vault can't be purged early.
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  properties: {
    value: secretEncryptionKey
    contentType: 'text/plain; base64 AES-256-GCM key'
    attributes: {
      enabled: true
    }
  }
}

// Digests only, yet kept here so that adding or revoking a key is a secret change, audited like one.
resource apiKeysSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: apiKeysSecretName
  properties: {
    value: adminApiKeyDigests
    contentType: 'text/plain; SHA-256 digests of admin API keys'
    attributes: {
      enabled: true
    }
  }
}

output name string = vault.name
output secretName string = secret.name
// Without a version: the app picks up a new secret version when the reference is refreshed.
output secretUri string = secret.properties.secretUri
output apiKeysSecretName string = apiKeysSecret.name
output apiKeysSecretUri string = apiKeysSecret.properties.secretUri
