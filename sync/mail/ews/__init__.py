"""Exchange Web Services through exchangelib: the incoming and outgoing connectors for Exchange."""
