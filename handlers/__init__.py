"""Chat-neutral application logic.

Use cases take a :class:`handlers.messages.Incoming` (or plain arguments) and return neutral
:class:`handlers.messages.Reply` objects that chat adapters in ``bot/`` render. Nothing here imports
slack_bolt, telegram, httpx or taskiq.
"""
