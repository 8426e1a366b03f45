"""Persistent domain: tortoise-orm models, the post state machine, and the database bootstrap.

This package is the bottom layer: it imports nothing from ``handlers``, ``tasks`` or ``bot``.
"""
