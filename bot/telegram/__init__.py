"""The Telegram adapter: python-telegram-bot's ``Application`` in front of the chat-neutral core.

Modules, one job each:

* ``render``     neutral :class:`~handlers.messages.Reply` → HTML text and an inline keyboard
* ``callbacks``  button callback data as short ids of stored commands (valid in any process, after restarts)
* ``notifier``   sends and edits messages through the Bot API: cards edited in place, replies to the card,
                 429s waited out, a chat the bot was removed from logged; every call through one method
* ``pacing``     Telegram's flood limits (1/s per chat, 20/min per group, 30/s per bot), in Redis for all processes
* ``files``      photos and videos sent with ``/draft``: ``getFile`` and the download into the media store
* ``adapter``    what a message or a click becomes, and where the replies go
* ``webhook``    ``POST /telegram/webhook``: the secret header checked, the update queued
* ``app``        builds all of the above from the settings (webhook or polling), and registers the webhook
* ``wording``    every sentence the adapter itself says
"""
