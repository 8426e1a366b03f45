"""Approval policies: how many levels a post needs, who may decide at each, who may skip approval.

A policy belongs to a social account; accounts without one use the default policy (itself
editable, else one level: any member with the ``approver`` role). A post to several accounts
follows the strictest of their policies: the one with the most levels, then the most ALL levels,
then the first account in the order given. Publishing directly needs every target's permission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from handlers.messages import Conversation
from models.accounts import SocialAccount
from models.members import APPROVER_ROLE, Member, MemberRole
from models.policies import ApprovalPolicy
from models.posts import Delivery, Post

MAX_LEVELS = 3
DEFAULT_REMIND_AFTER = timedelta(hours=4)
DEFAULT_REMIND_BEFORE = timedelta(hours=1)


@dataclass(frozen=True)
class Who:
    """A set of members given by name and/or role."""

    members: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    def includes(self, member: Member, roles: frozenset[str]) -> bool:
        return member.name in self.members or bool(self.roles & roles)

    def describe(self, joiner: str = " or ") -> str:
        parts = [f"@{m}" for m in sorted(self.members)] + [f"anyone with role {r}" for r in sorted(self.roles)]
        return joiner.join(parts) or "nobody"

    def spec(self) -> str:
        return ",".join([f"@{m}" for m in sorted(self.members)] + [f"role:{r}" for r in sorted(self.roles)])

    async def resolve(self) -> list[Member]:
        ids = set(await MemberRole.filter(role__in=list(self.roles)).values_list("member_id", flat=True))
        ids.update(await Member.filter(name__in=list(self.members)).values_list("id", flat=True))
        return await Member.filter(id__in=list(ids)).order_by("name")

    def to_json(self) -> dict[str, Any]:
        return {"members": sorted(self.members), "roles": sorted(self.roles)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Who:
        data = data or {}
        return cls(frozenset(data.get("members", ())), frozenset(data.get("roles", ())))


@dataclass(frozen=True)
class Level:
    who: Who = field(default_factory=Who)
    mode: Literal["any", "all"] = "any"

    def describe(self) -> str:
        if self.mode == "all":
            return "all of " + self.who.describe(" and ")
        return self.who.describe(" or ")

    def allows(self, member: Member, roles: frozenset[str]) -> bool:
        return self.who.includes(member, roles)

    async def candidates(self) -> list[Member]:
        return await self.who.resolve()

    def spec(self) -> str:
        return self.who.spec() + (":all" if self.mode == "all" else "")

    def to_json(self) -> dict[str, Any]:
        return {**self.who.to_json(), "mode": self.mode}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Level:
        return cls(Who.from_json(data), "all" if data.get("mode") == "all" else "any")


@dataclass(frozen=True)
class Policy:
    levels: tuple[Level, ...]
    direct: Who = field(default_factory=Who)
    remind_after: timedelta = DEFAULT_REMIND_AFTER
    remind_before: timedelta = DEFAULT_REMIND_BEFORE
    source: str = "default"  # the account handle the policy belongs to, or "default"
    channel: Conversation | None = None  # where approval requests go (else: where the draft was made)

    @property
    def depth(self) -> int:
        return len(self.levels)

    def level(self, number: int) -> Level:
        return self.levels[min(number, self.depth) - 1]

    def at(self, number: int | None) -> str:
        """``level 2 of 3`` for people's messages; "" for a one-level policy, where it says nothing."""
        return f"level {number or 1} of {self.depth}" if self.depth > 1 else ""

    def who_at(self, number: int) -> str:
        """``level 2 of 3: all of @carol and @dan``, or just who for a one-level policy."""
        who = self.level(number).describe()
        return f"{self.at(number)}: {who}" if self.depth > 1 else who

    @property
    def strictness(self) -> tuple[int, int]:
        return self.depth, sum(1 for lv in self.levels if lv.mode == "all")

    def spec(self) -> str:
        parts = [f"level{i}={lv.spec()}" for i, lv in enumerate(self.levels, 1)]
        if self.direct.members or self.direct.roles:
            parts.append(f"direct={self.direct.spec()}")
        if self.channel is not None:
            parts.append(f"channel={self.channel.adapter}:{self.channel.channel}")
        parts.append(f"remind={_fmt(self.remind_after)}")
        parts.append(f"before={_fmt(self.remind_before)}")
        return " ".join(parts)

    @classmethod
    def from_row(cls, row: ApprovalPolicy, source: str) -> Policy:
        return cls(
            levels=tuple(Level.from_json(lv) for lv in row.levels),
            direct=Who.from_json(row.direct),
            remind_after=timedelta(seconds=row.remind_after_seconds),
            remind_before=timedelta(seconds=row.remind_before_seconds),
            source=source,
            channel=Conversation.from_json(row.channel) if row.channel else None,
        )


BUILTIN_DEFAULT = Policy(levels=(Level(Who(roles=frozenset({APPROVER_ROLE}))),))


def _fmt(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "off"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


async def default_policy() -> Policy:
    row = await ApprovalPolicy.filter(account_id__isnull=True).first()
    return Policy.from_row(row, "default") if row else BUILTIN_DEFAULT


async def policy_of_account(account: SocialAccount) -> Policy:
    row = await ApprovalPolicy.filter(account_id=account.id).first()
    return Policy.from_row(row, account.handle) if row else await default_policy()


async def strictest(accounts: list[SocialAccount]) -> Policy:
    policies = [await policy_of_account(a) for a in accounts]
    if not policies:
        return await default_policy()
    return max(policies, key=lambda p: p.strictness)  # max keeps the first of equals


async def policy_for(post: Post) -> Policy:
    """The policy that governs ``post``: the strictest of its target accounts' policies."""
    deliveries = await Delivery.filter(post_id=post.id).order_by("id").prefetch_related("account")
    return await strictest([d.account for d in deliveries])


async def may_publish_directly(member: Member, roles: frozenset[str], accounts: list[SocialAccount]) -> bool:
    for account in accounts:
        policy = await policy_of_account(account)
        if not policy.direct.includes(member, roles):
            return False
    return bool(accounts)
