"""The modals: /draft's form, the small one that asks a clicker for a reason or a time, and the one a core
reply's :class:`~handlers.messages.Form` asks with (``/account connect bluesky``'s handle and app password).

All only translate: a submitted form becomes the text command a member could have typed
(``/draft --to x,linkedin --at 2026-12-01T09:00Z Launch!``, ``/reject 12 off-brand``,
``/account connect bluesky handle=… app_password=…``), and the core's errors come back on the block they are
about (``Reply.extra["field"]``). A form's values are never put back in a view or a log line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.slack import wording
from bot.slack.blocks import Click
from bot.slack.payloads import BadPayload, View
from handlers.messages import Form, FormField, form_command

Json = dict[str, Any]

DRAFT_CALLBACK = "herald.draft"
ASK_CALLBACK = "herald.ask"
FORM_CALLBACK = "herald.form"
TEXT, TARGETS, WHEN_MODE, WHEN, RECURRENCE, IMAGES = "text", "targets", "when_mode", "when", "recurrence", "images"
ANSWER = "answer"
MODE_NOW, MODE_SLOT, MODE_AT = "now", "slot", "at"
MAX_OPTIONS = 100
MAX_FILES = 4
IMAGE_TYPES = ["jpg", "jpeg", "png", "gif", "webp", "mp4", "mov"]
METADATA_LIMIT = 3000


class Metadata(BaseModel):
    """What a modal carries in its ``private_metadata`` from where it was opened to its Submit."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    channel: str | None = None  # the conversation the replies go to (None: the member's DM)
    thread: str | None = None  # the clicked card's thread, for the replies everyone sees
    home: bool = False  # clicked in App Home: refresh it afterwards
    response_url: str | None = None  # the command's or the click's
    clicked_in: str | None = None  # the thread the click was in (for what is said to the clicker alone)
    command: str = ""  # the ask modal's: the clicked button's command …
    ask: str | None = None  # … and what it asks for

    def dumped(self, **extra: str) -> str:
        return json.dumps(self.model_dump(exclude_defaults=True) | extra)[:METADATA_LIMIT]


def _plain(text: str, limit: int = 150) -> Json:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def _option(value: str, text: str) -> Json:
    return {"text": _plain(text, 75), "value": value[:150]}


def _input(block_id: str, label: str, element: Json, *, optional: bool = False) -> Json:
    element = {**element, "action_id": block_id}
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, 2000),
        "element": element,
        "optional": optional,
    }


# -- /draft -------------------------------------------------------------------------------------------------


def draft_modal(accounts: list[tuple[str, str]], *, text: str = "", metadata: Metadata | None = None) -> Json:
    """The /draft form. ``accounts`` are ``(handle, label)`` pairs to offer as targets."""
    options = [_option(handle, f"{handle} ({label})") for handle, label in accounts[:MAX_OPTIONS]]
    targets: Json = {
        "type": "multi_static_select",
        "placeholder": _plain(wording.TARGETS_PLACEHOLDER),
        "options": options,
    }
    if len(options) == 1:
        targets["initial_options"] = options
    text_input: Json = {"type": "plain_text_input", "multiline": True, "placeholder": _plain(wording.TEXT_PLACEHOLDER)}
    if text:
        text_input["initial_value"] = text
    modes = [
        _option(MODE_NOW, wording.WHEN_NOW),
        _option(MODE_SLOT, wording.WHEN_SLOT),
        _option(MODE_AT, wording.WHEN_AT),
    ]
    return {
        "type": "modal",
        "callback_id": DRAFT_CALLBACK,
        "title": _plain(wording.DRAFT_TITLE, 24),
        "submit": _plain(wording.DRAFT_SUBMIT, 24),
        "close": _plain(wording.CANCEL, 24),
        "private_metadata": (metadata or Metadata()).dumped(),
        "blocks": [
            _input(TEXT, wording.TEXT_LABEL, text_input),
            _input(TARGETS, wording.TARGETS_LABEL, targets),
            _input(
                WHEN_MODE,
                wording.WHEN_MODE_LABEL,
                {"type": "static_select", "placeholder": _plain(wording.WHEN_NOW), "options": modes},
                optional=True,
            ),
            _input(WHEN, wording.WHEN_AT_LABEL, {"type": "datetimepicker"}, optional=True),
            _input(
                RECURRENCE,
                wording.RECURRENCE_LABEL,
                {"type": "plain_text_input", "placeholder": _plain(wording.RECURRENCE_PLACEHOLDER)},
                optional=True,
            ),
            _input(
                IMAGES,
                wording.IMAGES_LABEL,
                {"type": "file_input", "filetypes": IMAGE_TYPES, "max_files": MAX_FILES},
                optional=True,
            ),
        ],
    }


@dataclass(frozen=True)
class DraftForm:
    text: str
    targets: list[str]
    mode: str | None
    at: int | None
    recurrence: str
    files: list[Json] = field(default_factory=list)
    metadata: Metadata = field(default_factory=Metadata)

    @property
    def when_block(self) -> str:
        """The block a time error belongs on: the picker when a time was picked, else the choice."""
        return WHEN if self.effective_mode == MODE_AT else WHEN_MODE

    @property
    def effective_mode(self) -> str:
        return self.mode or (MODE_AT if self.at is not None else MODE_NOW)


def metadata_of(view: View) -> Metadata:
    """The modal's metadata; none if it isn't Herald's JSON, BadPayload if its values have the wrong types."""
    try:
        data = json.loads(view.private_metadata or "{}")
    except ValueError:
        return Metadata()
    if not isinstance(data, dict):
        return Metadata()
    try:
        return Metadata.model_validate(data)
    except ValidationError:
        raise BadPayload("view.private_metadata", "wrong types") from None


def read_draft(view: View) -> DraftForm:
    mode = view.element(WHEN_MODE).selected_option
    return DraftForm(
        text=(view.element(TEXT).value or "").strip(),
        targets=[o.value for o in view.element(TARGETS).selected_options or []],
        mode=mode.value if mode is not None else None,
        at=view.element(WHEN).selected_date_time,
        recurrence=(view.element(RECURRENCE).value or "").strip(),
        files=list(view.element(IMAGES).files or []),
        metadata=metadata_of(view),
    )


def _quote(value: str) -> str:
    for left, right in (('"', '"'), ("'", "'"), ("“", "”")):
        if left not in value and right not in value:
            return f"{left}{value}{right}"
    return '"' + value.replace('"', "") + '"'


def draft_command(form: DraftForm, *, media: list[str] | None = None) -> tuple[str, dict[str, str]]:
    """The /draft command the form stands for, or the form's own errors by block.

    A repeat rule goes as ``--every`` (a series runs on its schedule, so it takes no ``--at``); "next
    free slot" is ``--at next``; a picked time goes in UTC, so the member's zone doesn't matter.
    """
    mode = form.effective_mode
    if mode == MODE_AT and form.at is None:
        return "", {WHEN: wording.PICK_A_TIME}
    parts = ["/draft"]
    if form.targets:
        parts.append("--to " + ",".join(form.targets))
    if form.recurrence:
        parts.append("--every " + _quote(form.recurrence))
    elif mode == MODE_AT and form.at is not None:
        parts.append("--at " + datetime.fromtimestamp(form.at, UTC).strftime("%Y-%m-%dT%H:%MZ"))
    else:
        parts.append("--at " + ("next" if mode == MODE_SLOT else "now"))
    if media:
        parts.append("--media " + _quote(",".join(media)))
    parts.append(form.text)
    return " ".join(parts), {}


def error_block(form: DraftForm, field_name: str | None, message: str) -> str:
    """Which block of the /draft form an error from the core belongs on."""
    when = RECURRENCE if form.recurrence else form.when_block  # a series' schedule stands for its time
    by_field = {TEXT: TEXT, TARGETS: TARGETS, "when": when, "recurrence": RECURRENCE, "every": RECURRENCE}
    by_field |= {"media": IMAGES, "images": IMAGES}
    if field_name in by_field:
        return by_field[field_name]
    for option, block in (("--every", RECURRENCE), ("--media", IMAGES), ("--at", form.when_block), ("--to", TARGETS)):
        if option in message:
            return block
    return TEXT


# -- asking a clicker -------------------------------------------------------------------------------------


def ask_modal(click: Click, label: str, *, metadata: Metadata) -> Json:
    """A one-field modal: the answer is appended to the clicked button's command."""
    ask = click.ask or "reason"
    return {
        "type": "modal",
        "callback_id": ASK_CALLBACK,
        "title": _plain(label or wording.ASK_TITLE, 24),
        "submit": _plain(wording.ASK_SUBMIT, 24),
        "close": _plain(wording.CANCEL, 24),
        "private_metadata": metadata.dumped(command=click.command, ask=ask),
        "blocks": [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"`{click.command}` …"}]},
            _input(
                ANSWER,
                wording.ask_label(ask),
                {
                    "type": "plain_text_input",
                    "multiline": ask == "reason",
                    "placeholder": _plain(wording.ask_placeholder(ask)),
                },
            ),
        ],
    }


@dataclass(frozen=True)
class Answer:
    command: str
    metadata: Metadata


def read_ask(view: View) -> tuple[Answer | None, dict[str, str]]:
    """The command with the answer appended, or the form's own error."""
    metadata = metadata_of(view)
    answer = " ".join((view.element(ANSWER).value or "").split())
    if not answer:
        return None, {ANSWER: wording.NEEDS_ANSWER}
    return Answer(f"{metadata.command} {answer}".strip(), metadata), {}


# -- a core reply's form ----------------------------------------------------------------------------------


def form_modal(form: Form, *, metadata: Metadata) -> Json:
    """One plain-text input per field (block and action id: the field's name); the form's command rides in the
    metadata. Slack has no password input: a secret field is a plain input that is never filled in again."""
    blocks = []
    for field_ in form.fields:
        element: Json = {"type": "plain_text_input"}
        if field_.hint:
            element["placeholder"] = _plain(field_.hint)
        blocks.append(_input(field_.name, field_.label, element))
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": _plain(form.title or wording.ASK_TITLE, 24),
        "submit": _plain(form.submit or wording.ASK_SUBMIT, 24),
        "close": _plain(wording.CANCEL, 24),
        "private_metadata": metadata.dumped(command=form.command),
        "blocks": blocks,
    }


def read_form(view: View) -> tuple[Answer | None, dict[str, str]]:
    """The form's command with each field's value (``name=value``), or the blocks left empty."""
    metadata = metadata_of(view)
    names = list(view.state.values)
    values = {name: (view.element(name).value or "").strip() for name in names}
    empty = {name: wording.NEEDS_ANSWER for name, value in values.items() if not value}
    if empty or not metadata.command:
        return None, empty or {next(iter(names), "form"): wording.NEEDS_ANSWER}
    form = Form("", metadata.command, tuple(FormField(name, name) for name in names))
    return Answer(form_command(form, values), metadata), {}
