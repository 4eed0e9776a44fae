"""Helpers for the tests that run ``qa serve`` as a real process (the HTTP API and the browser)."""
