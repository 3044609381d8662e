"""Medvirk's runtime: settings, database, application wiring, web server, delivery, CLI, and
the launcher that runs the bot against the offline sandbox (sandbox_run.py)."""
