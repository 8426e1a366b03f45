"""Herald's error tree.

Every error Herald raises on purpose descends from :class:`HeraldError`. The tree is translated
once, at the boundary where it is caught: chat adapters turn a :class:`UserError` into one sentence
for the person who caused it; anything else is logged with a reference id and the user is told
"Something went wrong (ref …)".

    HeraldError
    ├── UserError                 the user can act on it; ``str(err)`` is the sentence to show
    │   ├── NotFound              no such post / account / member
    │   ├── PermissionDenied      the member may not do this
    │   ├── InvalidInput          a command, time or field could not be understood
    │   ├── InvalidTransition     the post's state does not allow this action
    │   └── AlreadyDecided        somebody else won a race for the same decision
    ├── ConfigError               a setting is missing or wrong (start-up stops with one line)
    └── PlatformError             (tasks.platforms.errors) a social platform refused or failed
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class HeraldError(Exception):
    """Root of every error Herald raises on purpose."""


class UserError(HeraldError):
    """An error whose message is a sentence meant for the person who caused it.

    ``field`` names the input it is about (``text``, ``targets``, ``when``…) when there is one, so a
    form can show the sentence next to that field.
    """

    field: str | None = None


@contextmanager
def about(field: str) -> Iterator[None]:
    """Tag any UserError raised inside with the input ``field`` it concerns (the innermost tag wins)."""
    try:
        yield
    except UserError as exc:
        if exc.field is None:
            exc.field = field
        raise


class NotFound(UserError):
    pass


class PermissionDenied(UserError):
    """The member may not do this: a command's declared role they lack (:meth:`role_needed`, the one
    sentence every adapter shows), or a rule of the use case itself ("only the author or an admin")."""

    @classmethod
    def role_needed(cls, action: str, role: str) -> PermissionDenied:
        """``/queue status`` needs ``ops``: admins may do everything, so they are always named.
        ("admin" is ``models.members.ADMIN_ROLE``; this module imports no models.)"""
        who = "admins" if role == "admin" else f"members with the {role} role or admins"
        return cls(f"Only {who} can run {action}.")


class InvalidInput(UserError):
    pass


class InvalidTransition(UserError):
    pass


class AlreadyDecided(UserError):
    pass


class ConfigError(HeraldError):
    """A configuration value is wrong; the message names the variable."""
