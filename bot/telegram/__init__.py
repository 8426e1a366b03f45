"""The Telegram adapter: python-telegram-bot in front of the chat-neutral core.

* ``pacing``    Telegram's flood limits (1/s per chat, 20/min per group, 30/s per bot), in Redis for all processes
"""
