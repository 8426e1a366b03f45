"""Approval policies: how many levels a post needs and who may decide at each.

Issue #2 ships the default policy only (one level, any member with the ``approver`` role, never the
author); per-account policies plug in behind :func:`policy_for`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models.members import APPROVER_ROLE, Member, MemberRole
from models.posts import Post


@dataclass(frozen=True)
class Level:
    members: frozenset[str] = frozenset()  # member names
    roles: frozenset[str] = frozenset()
    mode: Literal["any", "all"] = "any"

    def describe(self) -> str:
        who = [f"@{m}" for m in sorted(self.members)] + [f"anyone with role {r}" for r in sorted(self.roles)]
        joined = " or ".join(who) if self.mode == "any" else " and ".join(who)
        return joined or "nobody"

    async def candidates(self) -> list[Member]:
        """Every member who may decide at this level (before excluding the author)."""
        ids = set(await MemberRole.filter(role__in=list(self.roles)).values_list("member_id", flat=True))
        named = await Member.filter(name__in=list(self.members)).values_list("id", flat=True)
        ids.update(named)
        return await Member.filter(id__in=list(ids)).order_by("name")

    def allows(self, member: Member, roles: frozenset[str]) -> bool:
        return member.name in self.members or bool(self.roles & roles)


@dataclass(frozen=True)
class Policy:
    levels: tuple[Level, ...]

    @property
    def depth(self) -> int:
        return len(self.levels)

    def level(self, number: int) -> Level:
        return self.levels[number - 1]


DEFAULT_POLICY = Policy(levels=(Level(roles=frozenset({APPROVER_ROLE})),))


async def policy_for(post: Post) -> Policy:
    """The policy that governs ``post`` (the strictest of its targets' policies)."""
    return DEFAULT_POLICY
