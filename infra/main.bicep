// The whole deployment: one resource group holding a Flex Consumption Function App and what it needs.
// `azd up` deploys it (see azure.yaml and docs/deploy.md); tests/infra checks it against the code.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment. It names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Azure region of every resource. It must offer the Flex Consumption plan.')
param location string

@description('Optional: application (client) id of the Entra app registration of the admin API. Set, the API accepts Entra ID tokens for it (SYNC_API_TENANT_ID, SYNC_API_AUDIENCE); empty, API keys only.')
param adminApiClientId string = ''

@description('Optional: tenant id of that app registration. Empty means the tenant of this subscription.')
param adminApiTenantId string = ''

@description('Optional: versionless URI of a secret in this deployment\'s Key Vault holding a client secret of that app registration. Set, administrators sign in to the console at /console with Entra ID (docs/console.md).')
param consoleClientSecretUri string = ''
@description('Optional: SYNC_GRAPH_NOTIFICATION_URL, https://<function app host>/api/push/graph. Set, Exchange Online mailboxes reached through Graph get change notifications (push); empty, polling only (docs/push.md).')
param graphNotificationUrl string = ''

@secure()
@description('SYNC_SECRET_ENCRYPTION_KEY: base64 of 32 random bytes. The azd preprovision hook makes one per environment.')
param secretEncryptionKey string

@secure()
@minLength(64)
@description('SYNC_API_KEYS: comma-separated SHA-256 digests of the admin API keys (\':reader\' for read-only ones). The azd preprovision hook makes a first key per environment.')
param adminApiKeyDigests string

var tags = {
  'azd-env-name': environmentName
}
// Lowercase letters and digits only: a storage account name allows nothing else.
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: 'log-${resourceToken}'
    appInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    secretEncryptionKey: secretEncryptionKey
    adminApiKeyDigests: adminApiKeyDigests
  }
}

module app 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.connectionString
    secretEncryptionKeyUri: vault.outputs.secretUri
    apiKeysSecretUri: vault.outputs.apiKeysSecretUri
    adminApiClientId: adminApiClientId
    adminApiTenantId: empty(adminApiTenantId) ? tenant().tenantId : adminApiTenantId
    consoleClientSecretUri: consoleClientSecretUri
    graphNotificationUrl: graphNotificationUrl
  }
}

module access 'modules/roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    principalId: app.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: vault.outputs.name
    secretNames: [
      vault.outputs.secretName
      vault.outputs.apiKeysSecretName
    ]
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

// azd reads these into the environment (.azure/<env>/.env).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output SERVICE_API_NAME string = app.outputs.name
output SERVICE_API_URI string = app.outputs.uri
