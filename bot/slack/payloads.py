"""The parts of Slack's requests Herald reads, validated once at the edge.

A request reaches Herald's code only after its signature was checked (``bot/http.py``); even then its
body can have a shape Herald does not expect (a field missing, a string where an object belongs). Each
kind of request Herald handles is read through one model here, with only the fields Herald uses (the
rest is ignored), so the adapter works with typed values and a wrong shape is a :class:`BadPayload`
at the door (HTTP 400, one log line) instead of a ``KeyError`` in background work.

:func:`read` picks the model by the request's kind; bolt's listeners get the result from the request's
context (:func:`of`), or validate there when the request came another way (Socket Mode).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONTEXT_KEY = "herald_payload"
APP_HOME_OPENED = "app_home_opened"
EVENT_CALLBACK = "event_callback"


class BadPayload(ValueError):
    """A signed request whose body does not have the shape Slack documents for its kind."""

    def __init__(self, kind: str, problem: str) -> None:
        super().__init__(f"{kind}: {problem}")
        self.kind = kind
        self.problem = problem


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class User(_Shape):
    id: str = Field(min_length=1)
    username: str = ""
    name: str = ""

    @property
    def handle(self) -> str:
        return self.username or self.name


class SlashCommand(_Shape):
    """A slash command's form fields."""

    user_id: str = Field(min_length=1)
    user_name: str = ""
    channel_id: str = Field(min_length=1)
    command: str
    text: str = ""
    response_url: str | None = None
    trigger_id: str = ""


# -- block_actions ------------------------------------------------------------------------------------------


class Text(_Shape):
    text: str = ""


class Option(_Shape):
    value: str


class Action(_Shape):
    action_id: str
    value: str | None = None
    text: Text | None = None
    selected_option: Option | None = None

    @property
    def label(self) -> str:
        return self.text.text if self.text is not None else ""


class Container(_Shape):
    type: str = ""
    channel_id: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None


class Channel(_Shape):
    id: str


class Message(_Shape):
    ts: str | None = None
    thread_ts: str | None = None


class Click(_Shape):
    """A ``block_actions`` payload: a click on a button (the first of ``actions``)."""

    user: User
    actions: list[Action] = Field(min_length=1)
    container: Container = Container()
    channel: Channel | None = None
    message: Message | None = None
    response_url: str | None = None
    trigger_id: str = ""

    @property
    def action(self) -> Action:
        return self.actions[0]

    @property
    def from_home(self) -> bool:
        return self.container.type == "view"

    @property
    def channel_id(self) -> str | None:
        return (self.channel.id if self.channel is not None else None) or self.container.channel_id

    @property
    def message_ts(self) -> str | None:
        return (self.message.ts if self.message is not None else None) or self.container.message_ts

    @property
    def in_thread(self) -> str | None:
        """The thread the clicked message is a reply in; None when it is a channel's own message (a thread's
        parent carries ``thread_ts`` equal to its own ``ts``)."""
        thread = (self.message.thread_ts if self.message is not None else None) or self.container.thread_ts
        return thread if thread and thread != self.message_ts else None


# -- view_submission ----------------------------------------------------------------------------------------


class ElementState(_Shape):
    """One input's value, as ``view.state.values[block][action]`` holds it."""

    value: str | None = None
    selected_option: Option | None = None
    selected_options: list[Option] | None = None
    selected_date_time: int | None = None
    files: list[dict[str, Any]] | None = None  # Slack file objects, for FileStore as they are


class State(_Shape):
    values: dict[str, dict[str, ElementState]] = {}


class View(_Shape):
    callback_id: str = ""
    private_metadata: str = ""
    state: State = State()

    def element(self, block: str) -> ElementState:
        """The state of block ``block``'s input (its action id is the block's, or else the first)."""
        by_action = self.state.values.get(block) or {}
        return by_action.get(block) or next(iter(by_action.values()), None) or ElementState()


class ViewSubmission(_Shape):
    user: User
    view: View


# -- events -------------------------------------------------------------------------------------------------


class HomeEvent(_Shape):
    user: str = Field(min_length=1)
    tab: str = "home"


class AppHomeOpened(_Shape):
    event: HomeEvent


Payload = SlashCommand | Click | ViewSubmission | AppHomeOpened
M = TypeVar("M", bound=_Shape)


def kind_of(body: Mapping[str, Any]) -> str:
    """What the request is, for logs and for :func:`read`: ``command``, ``block_actions``, ``event:<type>`` …"""
    kind = body.get("type")
    if kind == EVENT_CALLBACK:
        event = body.get("event")
        return f"event:{event.get('type')}" if isinstance(event, dict) else "event:?"
    if isinstance(kind, str):
        return kind
    return "command" if "command" in body else "unknown"


def is_event(body: Mapping[str, Any]) -> bool:
    """An Events API delivery (Slack retries those unless they get a 2xx)."""
    return body.get("type") == EVENT_CALLBACK


def read(body: Mapping[str, Any]) -> Payload | None:
    """The typed payload of a request of a kind Herald handles; None for any other kind (bolt decides).

    Raises :class:`BadPayload` when the body has the wrong shape for its kind.
    """
    kind = body.get("type")
    if kind == "block_actions":
        return parse(Click, body)
    if kind == "view_submission":
        return parse(ViewSubmission, body)
    if kind == EVENT_CALLBACK:
        event = body.get("event")
        if not isinstance(event, dict):
            raise BadPayload("event_callback", "event is not an object")
        return parse(AppHomeOpened, body) if event.get("type") == APP_HOME_OPENED else None
    if kind is None and "command" in body:
        return parse(SlashCommand, body)
    return None


def parse(model: type[M], body: object) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise BadPayload(model.__name__, _summary(exc)) from None


def of(model: type[M], context: Mapping[str, Any], body: object) -> M:
    """The request's ``model``: as the edge read it (``context``), or read now (Socket Mode)."""
    found = context.get(CONTEXT_KEY)
    return found if isinstance(found, model) else parse(model, body)


def _summary(exc: ValidationError) -> str:
    """Where and what, never the values (a payload carries people's words and the verification token)."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['type']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    return "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
