"""Every sentence the Telegram adapter says itself (the core's sentences come from ``handlers/``)."""

from __future__ import annotations

UNKNOWN_BUTTON = "That button doesn't work any more. Use the latest message, or type the command."
NOT_YOUR_PROMPT = "Only the person who clicked can answer this."
WORKING = "On it…"
DONE = "Done."
ASK_PROMPTS = {
    "reason": "{who}, reply to this message with the reason ({label}).",
    "when": "{who}, reply to this message with the new time, e.g. tomorrow 9am or in 2h ({label}).",
}
ASK_PROMPT = "{who}, reply to this message with the {ask} ({label})."
ASK_PLACEHOLDERS = {"reason": "Say why, in a sentence", "when": "e.g. tomorrow 9am, in 2h"}
ASKED = "Reply to my message below."
NOT_READ = "I don't read stickers or files without a command; send /draft with a caption to draft a post."
FILES_FAILED = "I couldn't fetch {name} from Telegram; send it again or leave it out."
NOT_MEDIA = "{name} is not an image or a video."
TOO_LARGE = "{name} is larger than {mb} MB, the most a bot can fetch from Telegram."


def ask_prompt(ask: str, label: str, who: str) -> str:
    return ASK_PROMPTS.get(ask, ASK_PROMPT).format(who=who, label=label, ask=ask)


def something_went_wrong(ref: str) -> str:
    return f"Something went wrong (ref {ref}). It was logged; please tell whoever runs Herald."
