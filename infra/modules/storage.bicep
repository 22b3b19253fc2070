// The storage account of the service: host storage of the Functions runtime, the deployment package, and every
// table, queue and blob container of sync/store/names.py. The app reaches it with its managed identity only.

@minLength(3)
@maxLength(24)
@description('Storage account name: 3-24 lowercase letters and digits, unique in Azure.')
param name string
param location string
param tags object = {}

// Every name of sync/store/names.py (Table, Queue, Container). tests/infra fails when one is missing here.
var tableNames = [
  'Organization'
  'Profiles'
  'Mailboxes'
  'Users'
  'Queues'
  'Contacts'
  'Accounts'
  'Leads'
  'Emails'
  'QueueItems'
  'SyncIdMappings'
  'TrackingFolders'
  'Alerts'
  'AddressIndex'
  'DueIndex'
  'MessageIndex'
  'TokenIndex'
  'ConversationIndex'
  'ItemFailures'
  'EmailHashIndex'
  'Outbox'
  'ConnectionSlots'
  'TokenCache'
  'Appointments'
  'Tasks'
  'SyncFilters'
  'ActDueIndex'
  'MailboxAddresses'
  'CycleHistory'
  'SyncTotals'
  'UnresolvedIndex'
  'NotTrackedIndex'
  'ConsoleSessions'
  'PendingConsents'
  'PushSubscriptions'
  'TestEnableIndex'
]
var queueNames = [
  'mailbox-work'
  'mailbox-work-poison'
  'mailbox-push'
  'mailbox-push-poison'
  'mailbox-claims'
  'mailbox-claims-poison'
  'outgoing-mail'
  'outgoing-mail-poison'
  'act-work'
  'act-work-poison'
  'test-and-enable'
  'test-and-enable-poison'
]
var containerNames = [
  'attachments'
  'bodies'
  'quarantine'
]
// The Flex Consumption plan runs the app from a package in this container (not a name the code uses).
var deploymentContainerName = 'app-package'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    // No account keys and no SAS signed with them: every caller, the app included, uses Entra ID.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in containerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

output name string = account.name
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainer.name}'
