"""Mail protocol connectors behind small ports (POP3, IMAP, SMTP, EWS, Graph) and MIME parsing."""
