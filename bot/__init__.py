"""Medvirk's runtime: settings, database, application wiring, sandbox and CLI."""
