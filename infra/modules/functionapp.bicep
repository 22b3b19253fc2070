// The Flex Consumption plan and the Function App (Linux, Python) with its system-assigned identity and app settings.

param name string
param planName string
param location string
param tags object = {}

@description('Storage account of AzureWebJobsStorage and of every table, queue and container (identity access only).')
param storageAccountName string

@description('URL of the blob container the Flex Consumption plan deploys the app package to.')
param deploymentContainerUrl string

param appInsightsConnectionString string

@description('Versionless URI of the Key Vault secret that holds SYNC_SECRET_ENCRYPTION_KEY.')
param secretEncryptionKeyUri string

@description('Versionless URI of the Key Vault secret that holds SYNC_API_KEYS (digests of the admin API keys).')
param apiKeysSecretUri string

@description('Application (client) id of the Entra app registration of the admin API; empty: API keys only.')
param adminApiClientId string = ''
@description('Tenant of that app registration: the tenant whose tokens the admin API accepts.')
param adminApiTenantId string = ''
@description('Versionless URI of the Key Vault secret holding a client secret of that app registration, for the console\'s Entra ID sign-in; empty: the console is not offered.')
param consoleClientSecretUri string = ''

@description('Public https URL of the app route /api/push/graph (https://<default host name>/api/push/graph): Graph change notifications for Exchange Online mailboxes reached through Graph. Empty: push off, polling only (docs/push.md).')
param graphNotificationUrl string = ''

@description('Cap on scale-out, so a flood of queue messages cannot run up the bill; raise it for large tenants.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance in MB. 2048 leaves room for the largest email the service accepts (150 MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

// The Python of the project (pyproject.toml requires-python); tests/infra fails when the two differ. Azure picks
// the patch release; the code does not rely on one (no html.parser: CVE-2025-6069, see docs/deploy.md).
var pythonVersion = '3.11'

// Every field of sync/settings.py (tests/infra fails when one is missing) and what the Functions host reads.
// Optional fields (default None) stay unset: SYNC_EXTRA_CA_FILE is only for mail servers with a private CA.
// The Flex plan sets FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION itself: they must not appear here.
var appSettings = {
  // Host and app storage through the managed identity: no connection string, no account key.
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  SYNC_STORAGE_PREFIX: ''
  SYNC_SECRET_ENCRYPTION_KEY: '@Microsoft.KeyVault(SecretUri=${secretEncryptionKeyUri})'
  // Who may call the admin API: API keys (their digests, from Key Vault) and, with an app registration, Entra ID
  // tokens of its tenant carrying the app roles Sync.Admin, Sync.Approver or Sync.Reader. Empty values mean "not configured".
  SYNC_API_KEYS: '@Microsoft.KeyVault(SecretUri=${apiKeysSecretUri})'
  SYNC_API_TENANT_ID: empty(adminApiClientId) ? '' : adminApiTenantId
  SYNC_API_AUDIENCE: adminApiClientId
  // The browser console signs administrators in with the same app registration (authorization code with PKCE); its
  // redirect URI must be registered as a Web redirect URI of that registration (docs/console.md).
  SYNC_CONSOLE_CLIENT_ID: empty(consoleClientSecretUri) ? '' : adminApiClientId
  SYNC_CONSOLE_CLIENT_SECRET: empty(consoleClientSecretUri) ? '' : '@Microsoft.KeyVault(SecretUri=${consoleClientSecretUri})'
  SYNC_CONSOLE_REDIRECT_URI: empty(consoleClientSecretUri) ? '' : 'https://${name}.azurewebsites.net/console/signin/callback'
  SYNC_API_MAX_BODY_BYTES: '10485760'
  SYNC_API_MAX_RECIPIENTS: '500'
  SYNC_SDK_LOG_LEVEL: 'WARNING'
  SYNC_ALLOW_CUSTOM_TOKEN_AUDIENCES: 'false'
  SYNC_ALLOW_GOOGLE_APP_PASSWORDS: 'false'
  SYNC_ALLOW_PRIVATE_MAIL_HOSTS: 'false'
  SYNC_ALLOW_LOOPBACK_MAIL_HOSTS: 'false'
  SYNC_SCHEDULER_CONCURRENCY: '8'
  SYNC_WORK_ITEMS_PER_MESSAGE: '8'
  SYNC_MAILBOX_SCHEDULE: '0 */1 * * * *'
  SYNC_OUTBOX_SWEEP_SCHEDULE: '0 */5 * * * *'
  SYNC_ACT_SCHEDULE: '0 */1 * * * *'
  SYNC_TEST_ENABLE_SCHEDULE: '0 */5 * * * *'
  SYNC_SUMMARY_SCHEDULE: '0 */5 * * * *'
  SYNC_PUSH_RENEW_SCHEDULE: '0 */30 * * * *'
  SYNC_GRAPH_NOTIFICATION_URL: graphNotificationUrl
  SYNC_POLL_BUSY_MINUTES: '1'
  SYNC_POLL_IDLE_MAX_MINUTES: '12'
  SYNC_POLL_CYCLES_PER_HOUR: '12'
  SYNC_POLL_BURST_CYCLES: '2'
  SYNC_ACT_POLL_MIN_MINUTES: '5'
  SYNC_ACT_POLL_MAX_MINUTES: '15'
  SYNC_MAX_INCOMING_EMAIL_BYTES: '157286400'
  SYNC_MAX_EMAILS_PER_CYCLE: '100'
  SYNC_RETRIEVAL_BATCH_SIZE: '50'
  SYNC_EWS_MAX_CONCURRENT_CALLS: '4'
  SYNC_MAX_DELIVERY_ATTEMPTS: '5'
  SYNC_SEND_RETRY_MINUTES: '5,15,30,60'
  SYNC_TRANSIENT_RETRY_LIMIT: '10'
  SYNC_TRANSIENT_RETRY_MINUTES: '5'
  // Must equal functionTimeout in host.json (00:10:00); tests/infra compares them.
  SYNC_FUNCTION_TIMEOUT_SECONDS: '600'
  SYNC_WORKER_BUDGET_SECONDS: '240'
  SYNC_ITEM_FAILURE_RETENTION_DAYS: '3'
  SYNC_PROCESS_SINCE_MAX_DAYS: '90'
  SYNC_MIME_PARSE_TIMEOUT_SECONDS: '10'
  SYNC_MIME_MAX_NESTING: '20'
  SYNC_MIME_MAX_PARTS: '1000'
  SYNC_MIME_MAX_ATTACHMENTS: '500'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true // Linux
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api' // azure.yaml deploys service "api" to the resource with this tag
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        for setting in items(appSettings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// Deployments use Entra ID (azd, the Functions tools); publishing with user name and password stays off.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

// Platform authentication in pass-through mode, when an Entra app registration is given: the app itself checks every
// request (API key or Entra ID token with its app roles, sync/api/auth.py), so the platform must not turn away
// callers that use an API key.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(adminApiClientId)) {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: adminApiClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${adminApiTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${adminApiClientId}'
            adminApiClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

output name string = app.name
output principalId string = app.identity.principalId
output uri string = 'https://${app.properties.defaultHostName}'
