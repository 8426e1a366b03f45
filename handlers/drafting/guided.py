"""The guided ``/draft``: the text, then the accounts, then when, then a preview to submit, one step at a time.

``/draft`` with nothing after it opens a :mod:`dialog <handlers.dialogs>` for the member in that chat (any
chat: the state is a database row, so a restart or another process goes on with it). Each step's buttons are
typed twins, so the shell types what Telegram and Slack click:

* ``/draft pick ACCOUNT``: tick or untick one account (its id, as the buttons send it, or its handle);
* ``/draft next``: done choosing;
* ``/draft when now|slot|tomorrow|type``, or ``/draft when TIME``: when it goes out (``type`` asks for a time);
* ``/draft text`` · ``/draft targets`` · ``/draft when``: back to that step, keeping every answer;
* ``/draft submit``: make the post, through the code the one-line ``/draft … TEXT`` uses;
* ``/cancel``: leave.

A plain message answers the step the draft is at: the post's text; the accounts (``x, linkedin``: those and no
others); a time (``in 2h``, ``friday 10:00``). A photo or album comes as ``/draft --media REF,… CAPTION``, as the
one-line form takes media: while the draft waits for its text, that is its answer (and ``/draft TEXT`` is too);
without a draft under way, a photo without a caption (``/draft --media REF,…`` alone) starts one with it.
A wrong answer gets one sentence and the same step again; nothing given before is lost.

The targets step's message keeps one ``ref`` while the member ticks, so a chat that can edits it in place.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog

from handlers import dialogs
from handlers.admin import accounts
from handlers.context import Context
from handlers.drafting import drafts
from handlers.drafting.media import describe
from handlers.drafting.views import media_text, platform_preview, preview
from handlers.messages import Button, Field, Preview, Reply, error, info
from handlers.text.commandline import split_options
from handlers.text.platforms import PLATFORMS, check_text, platform
from handlers.timing import slots
from handlers.timing.timeparse import ensure_future, format_local, parse_when
from models.accounts import SocialAccount
from models.dialogs import Dialog
from models.errors import InvalidInput, NotFound, UserError, about

log = structlog.get_logger(__name__)

KIND = "draft"
TEXT, TARGETS, WHEN, TIME, PREVIEW, SUBMITTING = "text", "targets", "when", "time", "preview", "submitting"

# What the guided draft says, together.
ASK_TEXT = "Let's write a post. Send its text (a photo or an album can come with it, as the caption). /cancel leaves."
ASK_CAPTION = "Let's write a post with the {media} you sent. Send its text. /cancel leaves."
ASK_NEW_TEXT = "What should the post say instead? Send the new text. Now it says:\n> {text}"
ASK_TARGETS = "Where should it go? Choose the accounts (✓ chosen), then Next.\nChosen: {chosen}"
ASK_WHEN = "When should it go out? (Your time zone: {zone}.)"
ASK_TIME = "Type when it should go out, in your time zone ({zone}): e.g. in 2h, friday 10:00 or 2026-12-01 09:30."
READY = "Here is your post; Submit sends it on (for approval, where it needs one).\n> {text}"
STILL_OPEN = "You have a draft under way here; this is where it is (/cancel leaves it)."
NOT_NOW = "That isn't this step of your draft; this is where it is."
AT_PREVIEW = "Your draft is ready: Submit it, change it, or /cancel."
BEING_SENT = "Your draft is being sent; /mine shows your posts, /cancel clears it if it got stuck."
NO_DRAFT = "You have no draft under way here (it was sent or cancelled); /draft starts one."
NO_TEXT = "A post needs some text: send it as a message."
NO_TEXT_KEPT = "A post needs some text: send it as a message (the {media} you sent is kept)."
NO_TARGETS = "Choose at least one account, then Next."
PICK_WHICH = "Which account? /draft pick ACCOUNT (its name, or the number its button sends)."
LEFT = "Left the draft; nothing was sent."

_OPTION = re.compile(r"(?:^|\s)--[a-z]")
# what buttons send: refused without a draft under way rather than drafted as a post saying "submit"
_BUTTON = re.compile(r"pick \S+|next|submit|text|targets|cancel|when(?: (?:now|slot|tomorrow|type))?", re.IGNORECASE)

Step = Callable[[Context, Dialog, str], Awaitable[list[Reply]]]


async def intercept(ctx: Context, args: str) -> list[Reply] | None:
    """The guided draft's answer to ``/draft ARGS``, or None when it is the one-line form's to answer."""
    words = args.split()
    dialog = await dialogs.current(ctx, KIND)
    if not words:
        if dialog is not None:
            return [info(STILL_OPEN), *await show(ctx, dialog)]
        return await start(ctx)
    if dialog is None:
        if _BUTTON.fullmatch(" ".join(words)):
            raise InvalidInput(NO_DRAFT)
        media = _media_alone(args)  # a photo without a caption: a guided draft with it, asking for the text
        return await start(ctx, media=await drafts.stored(ctx, drafts.media_refs(media))) if media else None
    if _OPTION.search(args):
        return await _media_answer(ctx, dialog, args) if dialog.step == TEXT else None
    verb = _VERBS.get(words[0].lower())
    if verb is not None:
        return await verb(ctx, dialog, args.strip()[len(words[0]) :].strip())
    if dialog.step == TEXT:  # /draft TEXT while the draft waits for its text
        return await _take_text(ctx, dialog, args.strip(), None)
    return None


def _media_alone(args: str) -> str | None:
    """The refs of ``/draft --media REF,…`` with nothing else (no text, no other option), else None."""
    try:
        options, text = split_options(args, known={"media"}, command="/draft")
    except InvalidInput:
        return None
    return options.get("media") if not text and list(options) == ["media"] else None


async def start(ctx: Context, *, media: list[str] | None = None) -> list[Reply]:
    accounts = await SocialAccount.filter(enabled=True).order_by("handle")
    if not accounts:
        raise InvalidInput(drafts.NO_ACCOUNTS)
    targets = [accounts[0].id] if len(accounts) == 1 else []
    data = {"text": "", "media": media or [], "targets": targets, "when": None}
    dialog = await dialogs.open_dialog(ctx, KIND, TEXT, {**data, "ref": secrets.token_hex(4)})
    return await show(ctx, dialog)


async def answer(ctx: Context, dialog: Dialog, text: str) -> list[Reply]:
    """A plain message: the answer to the step the draft is at."""
    if dialog.step == TEXT:
        return await _take_text(ctx, dialog, text, None)
    if dialog.step == TARGETS:
        return await _take_targets(ctx, dialog, text)
    if dialog.step in (WHEN, TIME):
        return await _take_when(ctx, dialog, text)
    if dialog.step == PREVIEW:
        return [info(AT_PREVIEW), *await show(ctx, dialog)]
    return [info(BEING_SENT)]


# -- the steps ----------------------------------------------------------------------------------------------


async def show(ctx: Context, dialog: Dialog) -> list[Reply]:
    """The message asking for the current step (with its buttons)."""
    data, step = dialog.data, dialog.step
    extra = {"dialog": KIND, "step": step}
    cancel = Button("Cancel", "/cancel", "danger")
    if step == TEXT:
        ask = (
            ASK_NEW_TEXT.format(text=preview(data["text"]))
            if data["text"]
            else ASK_CAPTION.format(media=media_text(data["media"]))
            if data["media"]
            else ASK_TEXT
        )
        return [Reply(text=ask, buttons=(cancel,), extra={**extra, "expects": "text"})]
    if step == TARGETS:
        return [await _targets_message(dialog, extra)]
    if step == WHEN:
        buttons = (*await _when_buttons(ctx, data), cancel)
        return [Reply(text=ASK_WHEN.format(zone=ctx.tz.key), buttons=buttons, extra=extra)]
    if step == TIME:
        return [Reply(text=ASK_TIME.format(zone=ctx.tz.key), buttons=(cancel,), extra={**extra, "expects": "time"})]
    if step == PREVIEW:
        return [await _preview(ctx, dialog, extra)]
    return [info(BEING_SENT)]


async def _targets_message(dialog: Dialog, extra: dict[str, Any]) -> Reply:
    accounts = await SocialAccount.filter(enabled=True).order_by("handle")
    chosen = set(dialog.data["targets"])
    names = [a.handle for a in await _chosen(dialog)]
    buttons = [
        Button(f"{'✓ ' if a.id in chosen else ''}{a.handle} ({_label(a)})", f"/draft pick {a.id}") for a in accounts
    ]
    buttons += [Button("Next", "/draft next", "primary"), Button("Change text", "/draft text")]
    return Reply(
        text=ASK_TARGETS.format(chosen=", ".join(names) or "none yet"),
        buttons=(*buttons, Button("Cancel", "/cancel", "danger")),
        ref=f"draft:{dialog.data['ref']}:targets",
        extra=extra,
    )


def _label(account: SocialAccount) -> str:
    return PLATFORMS[account.platform].label if account.platform in PLATFORMS else account.platform


async def _when_buttons(ctx: Context, data: dict[str, Any]) -> list[Button]:
    buttons = [Button("Now", "/draft when now", "primary")]
    try:
        slot = await _next_slot(ctx, await _accounts(data["targets"]))
    except UserError:
        pass  # no slots (or none free): no button; typed, /draft when slot says why
    else:
        buttons.append(Button(f"Next free slot ({format_local(slot, ctx.tz)})", "/draft when slot"))
    return [*buttons, Button("Tomorrow 09:00", "/draft when tomorrow"), Button("Type a time", "/draft when type")]


async def _preview(ctx: Context, dialog: Dialog, extra: dict[str, Any]) -> Reply:
    data = dialog.data
    targets = await _chosen(dialog)
    by_platform: dict[str, list[str]] = {}
    for account in targets:
        by_platform.setdefault(platform(account.platform).name, []).append(account.handle)
    metas = await describe(data["media"], ctx.services.media)
    previews: tuple[Preview, ...] = tuple(
        platform_preview(platform(name), handles, data["text"], list(data["media"]), metas)
        for name, handles in by_platform.items()
    )
    fields = [
        Field("Targets", ", ".join(a.handle for a in targets)),
        Field("When", await _when_text(ctx, dialog)),
        *([Field("Media", media_text(list(data["media"])))] if data["media"] else []),
    ]
    buttons = (
        Button("Submit", "/draft submit", "primary"),
        Button("Change text", "/draft text"),
        Button("Change accounts", "/draft targets"),
        Button("Change time", "/draft when"),
        Button("Cancel", "/cancel", "danger"),
    )
    text = READY.format(text=preview(data["text"]))
    return Reply(text=text, fields=tuple(fields), buttons=buttons, previews=previews, extra=extra)


async def _when_text(ctx: Context, dialog: Dialog) -> str:
    when = dialog.data["when"] or {"kind": "now"}
    if when["kind"] == "at":
        return format_local(datetime.fromisoformat(when["at"]), ctx.tz)
    if when["kind"] == "slot":
        try:
            slot = await _next_slot(ctx, await _chosen(dialog))
            return f"{format_local(slot, ctx.tz)} (the next free slot)"
        except UserError:
            return "the next free slot (none free now)"
    return "as soon as approved"


# -- answers ------------------------------------------------------------------------------------------------


async def _again(ctx: Context, dialog: Dialog | None, exc: UserError) -> list[Reply]:
    """One sentence saying what was wrong, then the same step again."""
    if dialog is None:
        return [error(NO_DRAFT)]
    return [error(str(exc), field=exc.field), *await show(ctx, dialog)]


async def _fresh(dialog: Dialog) -> Dialog | None:
    return await Dialog.filter(id=dialog.id).first()


async def _media_answer(ctx: Context, dialog: Dialog, args: str) -> list[Reply] | None:
    """``/draft --media REF,… CAPTION`` while the draft waits for its text (other options: the one-line form)."""
    try:
        options, text = split_options(args, known={"media"}, command="/draft")
    except InvalidInput:
        return None
    return await _take_text(ctx, dialog, text, options.get("media"))


async def _take_text(ctx: Context, dialog: Dialog, text: str, media_option: str | None) -> list[Reply]:
    try:
        with about("media"):
            media = None if media_option is None else await drafts.stored(ctx, drafts.media_refs(media_option))
        with about("text"):
            if not text.strip():
                if media:
                    await dialogs.change(dialog.id, lambda row: row.data.update(media=media))
                    raise InvalidInput(NO_TEXT_KEPT.format(media=media_text(media)))
                raise InvalidInput(NO_TEXT)
            drafts.check_length(text)
    except UserError as exc:
        return await _again(ctx, await _fresh(dialog), exc)

    def take(row: Dialog) -> None:
        row.data.update(text=text, ref=secrets.token_hex(4))
        if media is not None:
            row.data.update(media=media)
        row.step = TARGETS

    return await _then_show(ctx, await dialogs.change(dialog.id, take))


async def _take_targets(ctx: Context, dialog: Dialog, text: str) -> list[Reply]:
    """A plain message at the targets step: those accounts and no others, then on to when."""
    try:
        with about("targets"):
            names = [h for h in re.split(r"[\s,]+", text) if h]
            if not names:
                raise InvalidInput(NO_TARGETS)
            chosen = await _find_accounts(names)
    except UserError as exc:
        return await _again(ctx, dialog, exc)
    ids = [a.id for a in chosen]
    updated = await dialogs.change(dialog.id, lambda row: row.data.update(targets=ids))
    return await _next(ctx, updated, "") if updated else [error(NO_DRAFT)]


async def _pick(ctx: Context, dialog: Dialog, arg: str) -> list[Reply]:
    if dialog.step in (TEXT, SUBMITTING):
        return await _not_now(ctx, dialog)
    try:
        with about("targets"):
            if not arg:
                raise InvalidInput(PICK_WHICH)
            (account,) = await _find_accounts([arg])
    except UserError as exc:
        return await _again(ctx, dialog, exc)

    def toggle(row: Dialog) -> None:
        targets = [t for t in row.data["targets"] if t != account.id]
        row.data["targets"] = targets if len(targets) < len(row.data["targets"]) else [*targets, account.id]
        row.step = TARGETS

    return await _then_show(ctx, await dialogs.change(dialog.id, toggle))


async def _next(ctx: Context, dialog: Dialog, arg: str) -> list[Reply]:
    """Done choosing accounts: each chosen one must take the text and media as they are."""
    if dialog.step != TARGETS:
        return await _not_now(ctx, dialog)
    try:
        await _check_targets(ctx, dialog)
    except UserError as exc:
        return await _again(ctx, dialog, exc)
    return await _then_show(ctx, await dialogs.change(dialog.id, _to(PREVIEW if dialog.data["when"] else WHEN)))


async def _check_targets(ctx: Context, dialog: Dialog) -> None:
    with about("targets"):
        targets = await _chosen(dialog)
        if not targets:
            raise InvalidInput(NO_TARGETS)
    media = list(dialog.data["media"])
    metas = await describe(media, ctx.services.media)
    with about("text"):
        for account in targets:  # the sentences the one-line form refuses with, and the card warns with
            check_text(platform(account.platform), dialog.data["text"], media, metas)


async def _when(ctx: Context, dialog: Dialog, arg: str) -> list[Reply]:
    """``/draft when [now|slot|tomorrow|type|TIME]``: bare, back to the when step; else the answer to it."""
    if dialog.step in (TEXT, SUBMITTING):
        return await _not_now(ctx, dialog)
    if dialog.step == TARGETS:  # straight from choosing: the same checks as Next
        try:
            await _check_targets(ctx, dialog)
        except UserError as exc:
            return await _again(ctx, dialog, exc)
    if not arg:
        return await _then_show(ctx, await dialogs.change(dialog.id, _to(WHEN)))
    if arg.lower() == "type":
        return await _then_show(ctx, await dialogs.change(dialog.id, _to(TIME)))
    return await _take_when(ctx, dialog, arg)


async def _take_when(ctx: Context, dialog: Dialog, raw: str) -> list[Reply]:
    word = raw.strip().lower()
    try:
        with about("when"):
            if word in ("slot", "next"):
                await _next_slot(ctx, await _chosen(dialog))
                when: dict[str, str] = {"kind": "slot"}
            elif word == "tomorrow":
                when = {"kind": "at", "at": parse_when("tomorrow 09:00", now=ctx.now, tz=ctx.tz).isoformat()}
            else:
                due = drafts.parse_due(ctx, raw)  # as the one-line form reads --at
                when = {"kind": "now"} if due is None else {"kind": "at", "at": due.isoformat()}
    except UserError as exc:
        return await _again(ctx, dialog, exc)

    def take(row: Dialog) -> None:
        row.data["when"] = when
        row.step = PREVIEW

    return await _then_show(ctx, await dialogs.change(dialog.id, take))


async def _back_to_text(ctx: Context, dialog: Dialog, arg: str) -> list[Reply]:
    if dialog.step == SUBMITTING:
        return await _not_now(ctx, dialog)
    return await _then_show(ctx, await dialogs.change(dialog.id, _to(TEXT)))


async def _back_to_targets(ctx: Context, dialog: Dialog, arg: str) -> list[Reply]:
    if dialog.step in (TEXT, SUBMITTING):
        return await _not_now(ctx, dialog)

    def back(row: Dialog) -> None:
        if row.step != TARGETS:  # a new message to tick in, below the conversation so far
            row.data["ref"] = secrets.token_hex(4)
        row.step = TARGETS

    return await _then_show(ctx, await dialogs.change(dialog.id, back))


async def _submit(ctx: Context, dialog: Dialog, arg: str) -> list[Reply]:
    """Make the post with what the one-line form would be given; a second Submit finds it taken and does nothing."""
    if dialog.step == SUBMITTING:
        return [info(BEING_SENT)]
    if dialog.step != PREVIEW:
        return await _not_now(ctx, dialog)
    if not await dialogs.claim(dialog, PREVIEW, SUBMITTING):  # a second click, here or in another process
        now = await _fresh(dialog)
        if now is None:
            raise InvalidInput(NO_DRAFT)
        return [info(BEING_SENT)] if now.step == SUBMITTING else await _not_now(ctx, now)
    data = dialog.data
    try:
        targets = await _chosen(dialog)
        with about("targets"):
            if not targets:  # removed since they were chosen
                raise InvalidInput(NO_TARGETS)
        when = data["when"] or {"kind": "now"}
        due = datetime.fromisoformat(when["at"]) if when["kind"] == "at" else None
        with about("when"):
            if due is not None:
                ensure_future(due, now=ctx.now, tz=ctx.tz)
        post, replies = await drafts.create_draft(
            ctx,
            text=data["text"],
            media=list(data["media"]),
            targets=targets,
            due=due,
            next_slot=when["kind"] == "slot",
        )
    except UserError as exc:
        back = {"when": WHEN, "targets": TARGETS, "text": TARGETS, "media": TARGETS}.get(exc.field or "", PREVIEW)
        return await _again(ctx, await dialogs.change(dialog.id, _to(back)), exc)
    except BaseException:
        await dialogs.claim(dialog, SUBMITTING, PREVIEW)  # not made: Submit may be pressed again
        raise
    await dialogs.close(dialog)
    log.info("dialog.submitted", kind=KIND, post_id=post.id, member=ctx.member.name)
    return replies


async def _cancel(ctx: Context, dialog: Dialog, arg: str) -> list[Reply]:
    await dialogs.close(dialog)
    return [info(LEFT)]


_VERBS: dict[str, Step] = {
    "pick": _pick,
    "next": _next,
    "when": _when,
    "text": _back_to_text,
    "targets": _back_to_targets,
    "submit": _submit,
    "cancel": _cancel,
}


# -- helpers ------------------------------------------------------------------------------------------------


def _to(step: str) -> Callable[[Dialog], None]:
    def move(row: Dialog) -> None:
        row.step = step

    return move


async def _then_show(ctx: Context, dialog: Dialog | None) -> list[Reply]:
    return await show(ctx, dialog) if dialog is not None else [error(NO_DRAFT)]


async def _not_now(ctx: Context, dialog: Dialog) -> list[Reply]:
    return [info(NOT_NOW), *await show(ctx, dialog)]


async def _next_slot(ctx: Context, targets: list[SocialAccount]) -> datetime:
    if not targets:  # the accounts chosen were removed since
        raise InvalidInput(NO_TARGETS)
    return await slots.next_free(targets, now=ctx.now)


async def _accounts(ids: list[int]) -> list[SocialAccount]:
    """The accounts with these ids that can still be posted to, in the order given."""
    found = {a.id: a for a in await SocialAccount.filter(id__in=ids, enabled=True)}
    return [found[i] for i in ids if i in found]


async def _chosen(dialog: Dialog) -> list[SocialAccount]:
    return await _accounts(list(dialog.data["targets"]))


async def _find_accounts(names: list[str]) -> list[SocialAccount]:
    """Accounts by handle, or by id as the buttons send them."""
    found = []
    for name in dict.fromkeys(names):
        try:
            found.append(await accounts.find(name))
        except NotFound:
            by_id = await SocialAccount.filter(id=int(name), enabled=True).first() if name.isdigit() else None
            if by_id is None:
                raise
            found.append(by_id)
    return found
