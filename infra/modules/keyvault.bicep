// Key Vault holding the secret-encryption key. The app reads it through a Key Vault reference in its app settings.

@minLength(3)
@maxLength(24)
param name string
param location string
param tags object = {}

@secure()
@description('Base64 of 32 random bytes (AES-256-GCM) that encrypts the mailbox secrets stored in Table storage.')
param secretEncryptionKey string

var secretName = 'sync-secret-encryption-key'

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

output name string = vault.name
output secretName string = secret.name
// Without a version: the app picks up a new secret version when the reference is refreshed.
output secretUri string = secret.properties.secretUri
