"""CRM records (users, queues, contacts, accounts, leads) and the services that keep their indexes."""
