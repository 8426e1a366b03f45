"""Helpers for tests (as python-telegram-bot keeps them in tests/auxil)."""
