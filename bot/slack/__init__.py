"""The Slack adapter: slack-bolt's ``AsyncApp`` in front of the chat-neutral core.

Modules, one job each:

* ``blocks``    neutral :class:`~handlers.messages.Reply` → Block Kit (messages and the App Home view)
* ``modals``    the /draft modal and the small "ask" modal (reason, time), and reading them back
* ``notifier``  posts and edits messages through ``AsyncWebClient``: ``chat.update`` for replies with a
                known ref, thread replies under a post's card, ephemeral sentences, ~1 message/s per channel
* ``pacing``    ~1 message/s per channel, in Redis for all processes when Redis is configured, in booking order
* ``retrying``  waiting out an unreachable Web API (backoff, logged with post ids), and what counts as one
* ``identity``  Slack user → neutral :class:`~handlers.messages.Sender` (``users.info``: name, time zone)
* ``files``     images attached in Slack, downloaded with the bot token into the media store
* ``adapter``   what a slash command, a click or a modal submit becomes, and where the replies go
* ``listeners`` the bolt listeners: ack at once, then hand the work to the adapter
* ``app``       builds all of the above from the settings (HTTP mode and Socket Mode)
* ``wording``   every sentence the adapter itself says
"""
