"""Tests of the offline sandbox Bot API server."""
