"""Every sentence the Slack adapter says itself (the core's sentences come from ``handlers/``)."""

from __future__ import annotations

DRAFT_TITLE = "New post"
DRAFT_SUBMIT = "Send for approval"
CANCEL = "Cancel"
TEXT_LABEL = "Text"
TEXT_PLACEHOLDER = "What should the post say?"
TARGETS_LABEL = "Post to"
TARGETS_PLACEHOLDER = "Choose accounts"
WHEN_MODE_LABEL = "When"
WHEN_NOW = "Now (as soon as approved)"
WHEN_SLOT = "Next free slot"
WHEN_AT = "At the time below"
WHEN_AT_LABEL = "Date and time"
RECURRENCE_LABEL = "Repeat"
RECURRENCE_PLACEHOLDER = "e.g. every weekday 09:00 (leave empty for once)"
IMAGES_LABEL = "Images"
NO_ACCOUNTS = "There are no accounts to post to yet; an admin connects one with /herald account connect PLATFORM."

ASK_TITLE = "Herald"
ASK_SUBMIT = "Send"
ASK_LABELS = {"reason": "Reason", "when": "New time"}
ASK_PLACEHOLDERS = {"reason": "Say why, in a sentence", "when": "e.g. tomorrow 9am, in 2h, 2026-12-01 09:30"}

PICK_A_TIME = "Pick a date and time, or choose Now or Next free slot."
NEEDS_ANSWER = "Please fill this in."
FILES_FAILED = "I couldn't fetch {name} from Slack; attach it again or leave it out."
NOT_MEDIA = "{name} is not an image or a video."
TOO_LARGE = "{name} is larger than {mb} MB."
SLOW_DRAFT = "Still working on that; I'll tell you here when it's done."
HOME_EMPTY = "Nothing here yet. Start a post with /draft."


def ask_label(ask: str) -> str:
    return ASK_LABELS.get(ask, ask.capitalize())


def ask_placeholder(ask: str) -> str:
    return ASK_PLACEHOLDERS.get(ask, "")


def something_went_wrong(ref: str) -> str:
    return f"Something went wrong (ref {ref}). It was logged; please tell whoever runs Herald."
