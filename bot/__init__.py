"""The outside of Herald: chat adapters (local shell, Slack, Telegram), the HTTP app, the CLI, and the
wiring that builds everything from the settings. Only this package knows which chats exist.
"""
