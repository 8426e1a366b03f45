"""Invariants of the approval workflow, checked by reading the database (not the replies).

Used by ``tests/handlers/test_approval_properties.py``, which drives random command sequences and
calls :meth:`InvariantChecker.problems` after every step. Each problem is one sentence naming the
post and ending in ``[inv N]``; an empty list means the database is consistent:

1. A scheduled, publishing or published post has, for its current version and every level of
   ``policy_for(post)``, approvals by members that level allows, none by the author, no member on two
   levels; ANY levels at least one, ALL levels every candidate except the author and those who
   approved another level of the version (and at least one). Exempt: a version that was scheduled
   without approval (``post.scheduled_directly``, or an author's edit that kept it scheduled), and
   only if its author may publish directly to every target.
2. No decision by the post's author; at most one per (post, version, level, member); a member approves
   at most one level of a version.
3. Rejected, cancelled and published posts never change state again (nor disappear).
4. The latest audit entry with a state names the post's state (only ``scheduled → publishing``, a
   worker's claim, writes none).
5. A draft, pending, changes-requested or expired post has no scheduled, queued, publishing or
   published delivery; a rejected or cancelled post no published one (unless it was cancelled after
   it failed: out on one account, given up on another).
6. No internal errors: publishing fails only where :class:`Flaky` was told to fail (a failure or
   unknown outcome is in the audit log at most as often); the test adds that no reply says
   "Something went wrong" and no timer raises.
7. Right after the dispatcher ran at ``now``: no post still waits for approval or changes past its
   due time (it expires then), and no scheduled delivery is overdue.
8. A post and its deliveries agree on the outcome: a published post has every delivery published or
   cancelled; a failed post has no delivery still to go out, and at least one failed or unknown; a post
   with a delivery whose outcome is unknown is failed, scheduled (its failed siblings retried), publishing
   or cancelled. (/retry, /verify and /republish keep this, through the state machine.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from tortoise import connections

from handlers.review.policy import policy_for, policy_of_account
from models.accounts import SocialAccount
from models.approvals import ApprovalDecision, Decision
from models.audit import AuditEntry
from models.lifecycle import TERMINAL, DeliveryState, PostState
from models.members import Member, MemberRole
from models.posts import Delivery, Post
from tasks.platforms import DryRunPublisher
from tasks.platforms.base import BaseClient, Publication, Published

APPROVED_STATES = {PostState.SCHEDULED.value, PostState.PUBLISHING.value, PostState.PUBLISHED.value}
UNAPPROVED_STATES = {
    PostState.DRAFT.value,
    PostState.PENDING_APPROVAL.value,
    PostState.CHANGES_REQUESTED.value,
    PostState.EXPIRED.value,
}
LIVE_DELIVERY = {
    DeliveryState.SCHEDULED.value,
    DeliveryState.QUEUED.value,
    DeliveryState.PUBLISHING.value,
    DeliveryState.PUBLISHED.value,
}
TERMINAL_STATES = {s.value for s in TERMINAL}
FAILURES = {"delivery.failed", "delivery.unknown"}
D = DeliveryState
# The only post transition that writes no audit entry with a state: a worker claiming a delivery
# (scheduled → publishing). The entry after it (post.published / post.failed) carries the state again.
UNAUDITED = {PostState.PUBLISHING.value: {PostState.SCHEDULED.value}}


@dataclass
class Flaky(BaseClient):
    """Dry-run publishing that fails as told: each of ``next`` is raised by one publish, in turn."""

    next: list[Exception] = field(default_factory=list)
    raised: int = 0
    idempotent = False  # an unknown outcome waits for a human (/verify or /republish)
    dry: DryRunPublisher = field(default_factory=DryRunPublisher)

    async def publish(self, publication: Publication) -> Published:
        if self.next:
            self.raised += 1
            raise self.next.pop(0)
        return await self.dry.publish(publication)


async def wipe_database() -> None:
    """Empty every table of the connected database (as migrated: the list in tests/conftest.py may lag or lead),
    ids restarting at 1; the audit log's append-only triggers stay in place."""
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'aerich'"
        )
        tables = ", ".join(f'"{row["tablename"]}"' for row in rows)
        await conn.execute_script(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        return
    rows = await conn.execute_query_dict("SELECT type, name, tbl_name, sql FROM sqlite_master")
    tables = [r["name"] for r in rows if r["type"] == "table" and r["name"] not in {"aerich", "sqlite_sequence"}]
    tables.reverse()  # created parents first, so emptied children first (foreign keys are enforced)
    if any(r["name"] == "sqlite_sequence" for r in rows):
        tables.append("sqlite_sequence")
    # SQLite refuses DELETE on audit_log by trigger: lift it for the wipe only, then put it back as it was.
    triggers = [(r["name"], r["sql"]) for r in rows if r["type"] == "trigger" and r["tbl_name"] == "audit_log"]
    script = [f'DROP TRIGGER "{name}";' for name, _ in triggers]
    script += [f'DELETE FROM "{table}";' for table in tables]
    script += [f"{sql};" for _, sql in triggers]
    await conn.execute_script("\n".join(script))


class InvariantChecker:
    """Remembers what it saw last time (for "terminal stays terminal") and reports broken invariants."""

    def __init__(self, flaky: Flaky | None = None) -> None:
        self.seen: dict[int, str] = {}
        self.flaky = flaky

    async def problems(self, *, now: datetime | None = None) -> list[str]:
        """Every broken invariant; pass ``now`` right after the dispatcher ran at that time."""
        members = {m.id: m for m in await Member.all()}
        roles: dict[int, set[str]] = {}
        for row in await MemberRole.all():
            roles.setdefault(row.member_id, set()).add(row.role)  # type: ignore[attr-defined]
        decisions: dict[int, list[ApprovalDecision]] = {}
        for d in await ApprovalDecision.all().order_by("id"):
            decisions.setdefault(d.post_id, []).append(d)  # type: ignore[attr-defined]
        entries: dict[int, list[AuditEntry]] = {}
        for e in await AuditEntry.filter(post_id__isnull=False).order_by("id"):
            entries.setdefault(e.post_id, []).append(e)  # type: ignore[arg-type]
        deliveries: dict[int, list[Delivery]] = {}
        for dl in await Delivery.all().order_by("id"):
            deliveries.setdefault(dl.post_id, []).append(dl)  # type: ignore[attr-defined]
        frozen = {k: frozenset(v) for k, v in roles.items()}
        problems: list[str] = []
        posts = await Post.all().order_by("id")
        for post in posts:
            rows = (decisions.get(post.id, []), entries.get(post.id, []), deliveries.get(post.id, []))
            problems += await self._post_problems(post, *rows, members, frozen, now)
        failures = [e for rows in entries.values() for e in rows if e.action in FAILURES]
        allowed = self.flaky.raised if self.flaky else 0
        if len(failures) > allowed:
            problems.append(f"{len(failures)} failed or unknown publishes, {allowed} made to fail [inv 6]")
        gone = set(self.seen) - {p.id for p in posts}
        problems += [f"post {pid} disappeared from the database [inv 3]" for pid in sorted(gone)]
        self.seen = {p.id: p.state for p in posts}
        return problems

    async def _post_problems(
        self,
        post: Post,
        decisions: list[ApprovalDecision],
        entries: list[AuditEntry],
        deliveries: list[Delivery],
        members: dict[int, Member],
        roles: dict[int, frozenset[str]],
        now: datetime | None,
    ) -> list[str]:
        out: list[str] = []
        pid, author, state = post.id, post.author_id, post.state  # type: ignore[attr-defined]

        # 2. no decision by the author; one decision per (version, level, member); one approved level per version
        for d in decisions:
            if d.approver_id == author:  # type: ignore[attr-defined]
                out.append(f"post {pid}: its author decided {d.decision} on v{d.version} level {d.level} [inv 2]")
        keys = Counter((d.version, d.level, d.approver_id) for d in decisions)  # type: ignore[attr-defined]
        out += [f"post {pid}: {n} decisions for (v, level, member)={k} [inv 2]" for k, n in keys.items() if n > 1]
        approved_levels = Counter(
            (d.version, d.approver_id)  # type: ignore[attr-defined]
            for d in decisions
            if d.decision == Decision.APPROVE.value
        )
        out += [
            f"post {pid}: member {k[1]} approved {n} levels of v{k[0]} [inv 2]"
            for k, n in approved_levels.items()
            if n > 1
        ]

        # 1. scheduled/publishing/published only with complete approval of the current version
        if state in APPROVED_STATES:
            out += await self._approval_problems(post, decisions, entries, members, roles)

        # 3. terminal states stay terminal
        before = self.seen.get(pid)
        if before in TERMINAL_STATES and state != before:
            out.append(f"post {pid} left the terminal state {before} for {state} [inv 3]")

        # 4. the latest audit entry with a state names the post's state
        stated = [e for e in entries if e.state is not None]
        if not stated:
            out.append(f"post {pid} is {state} but no audit entry carries a state [inv 4]")
        elif stated[-1].state != state and stated[-1].state not in UNAUDITED.get(state, set()):
            last = stated[-1]
            out.append(
                f"post {pid} is {state} but its latest audit entry with a state says {last.state} "
                f"({last.action}, v{last.version}) [inv 4]"
            )

        # 5. deliveries agree with the post
        live = [d for d in deliveries if d.state in LIVE_DELIVERY]
        if state in UNAPPROVED_STATES and live:
            out.append(f"post {pid} is {state} but has deliveries {[d.state for d in live]} [inv 5]")
        gave_up = state == PostState.CANCELLED.value and any(e.state == PostState.FAILED.value for e in entries)
        if (
            state in {PostState.REJECTED.value, PostState.CANCELLED.value}
            and not gave_up  # failed on one account, out on another, then cancelled: no retry
            and any(d.state == DeliveryState.PUBLISHED.value for d in deliveries)
        ):
            out.append(f"post {pid} is {state} but a delivery was published [inv 5]")

        # 7. after the dispatcher ran at ``now``: nothing overdue is left waiting
        if now is not None:
            waiting = {PostState.PENDING_APPROVAL.value, PostState.CHANGES_REQUESTED.value}
            if state in waiting and post.due_at is not None and post.due_at <= now:
                out.append(f"post {pid} is still {state} after its due time passed; it should have expired [inv 7]")
            overdue = [
                d
                for d in deliveries
                if d.state in {DeliveryState.SCHEDULED.value, DeliveryState.QUEUED.value}
                and d.due_at is not None
                and d.due_at <= now
            ]
            if overdue:
                out.append(f"post {pid} has overdue deliveries {[d.id for d in overdue]} not published [inv 7]")

        # 8. the post and its deliveries agree on the outcome
        kinds = {d.state for d in deliveries}
        if state == PostState.PUBLISHED.value and not kinds <= {D.PUBLISHED.value, D.CANCELLED.value}:
            out.append(f"post {pid} is published but has deliveries {sorted(kinds)} [inv 8]")
        if state == PostState.FAILED.value and (
            kinds & {D.WAITING.value, D.SCHEDULED.value, D.QUEUED.value, D.PUBLISHING.value}
            or not kinds & {D.FAILED.value, D.UNKNOWN.value}
        ):
            out.append(f"post {pid} is failed but has deliveries {sorted(kinds)} [inv 8]")
        if D.UNKNOWN.value in kinds and state not in {
            PostState.FAILED.value,
            PostState.SCHEDULED.value,  # /retry sent its failed deliveries again; the unknown one waits for a human
            PostState.PUBLISHING.value,
            PostState.CANCELLED.value,
        }:
            out.append(f"post {pid} is {state} but a delivery's outcome is unknown [inv 8]")
        return out

    async def _approval_problems(
        self,
        post: Post,
        decisions: list[ApprovalDecision],
        entries: list[AuditEntry],
        members: dict[int, Member],
        roles: dict[int, frozenset[str]],
    ) -> list[str]:
        pid, author = post.id, post.author_id  # type: ignore[attr-defined]
        direct_version = any(
            (e.action == "post.scheduled_directly" and e.version == post.version == 1)
            or (e.action == "post.edited" and e.version == post.version and e.state == PostState.SCHEDULED.value)
            for e in entries
        )
        if direct_version:  # no approval needed, but only for an author who may publish directly everywhere
            deliveries = await Delivery.filter(post_id=pid).prefetch_related("account")
            accounts: list[SocialAccount] = [d.account for d in deliveries]
            who, their_roles = members[author], roles.get(author, frozenset())
            allowed = [(await policy_of_account(a)).direct.includes(who, their_roles) for a in accounts]
            if accounts and all(allowed):
                return []
            return [f"post {pid} v{post.version} skipped approval though its author may not publish directly [inv 1]"]
        out: list[str] = []
        policy = await policy_for(post)
        by_level: dict[int, set[int]] = {}
        for d in decisions:
            if d.version == post.version and d.decision == Decision.APPROVE.value:
                by_level.setdefault(d.level, set()).add(d.approver_id)  # type: ignore[attr-defined]
        for number, level in enumerate(policy.levels, 1):
            here = by_level.get(number, set())
            where = f"post {pid} is {post.state} (v{post.version}) but level {number} ({level.describe()})"
            if not here:
                out.append(f"{where} has no approval [inv 1]")
                continue
            for mid in sorted(here):
                if mid == author:
                    out.append(f"{where} was approved by the author [inv 1]")
                elif not level.allows(members[mid], roles.get(mid, frozenset())):
                    out.append(f"{where} was approved by {members[mid].name}, who is not allowed there [inv 1]")
            if level.mode == "all":
                elsewhere = set().union(*(ids for n, ids in by_level.items() if n != number))
                needed = {m.id for m in await level.candidates()} - {author} - elsewhere
                missing = sorted(members[m].name for m in needed - here)
                if missing:
                    out.append(f"{where} lacks the approval of {', '.join(missing)} [inv 1]")
        counts = Counter(mid for ids in by_level.values() for mid in ids)
        twice = sorted(members[m].name for m, n in counts.items() if n > 1)
        if twice:
            out.append(f"post {pid} v{post.version}: {', '.join(twice)} approved more than one level [inv 1]")
        return out
