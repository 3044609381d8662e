"""The domain: tables and the rules over them. Knows nothing of Telegram."""
