"""Property-based test of multi-level approval: random teams, policies and command sequences.

Each example starts from empty tables and builds a team: ``admin`` (the first to speak, so an admin),
five more members with random roles (some with none), three dry-run accounts, a random
``/policy set`` for most accounts and sometimes for ``default`` (1–3 levels of ``@member`` and
``role:NAME``, ANY or ``:all``, sometimes ``direct=``, ``remind=``, ``before=``). Then 5–30 steps:
a draft first, then at random drafts to one or two accounts (with or without ``--at``), ``/approve``
(sometimes ``--text``: edit-and-approve), ``/changes``, ``/reject``, ``/edit``, ``/withdraw``,
``/cancel``, ``/schedule``, ``/publish``, a publish made to fail (rejected, or with an unknown outcome)
and the ``/retry``, ``/verify`` and ``/republish`` that follow, and clock advances, with the dispatcher
ticking at every due time in between (expiry, reminders, publishing) or, sometimes, Herald down meanwhile. Deciders
are often someone the post's current level still waits for, else anyone (the author, members
without roles, approvers of another level); edits and the like mostly come from the author.

After every step (and every dispatcher tick) :class:`~tests.auxil.approval_model.InvariantChecker`
reads the database; a broken invariant fails the example with the problems and the transcript, as
``BrokenInvariantN`` so that Hypothesis shrinks and reports each invariant's failures separately.
Below: a test that the checker notices hand-made bad states, and the smallest scenario of each
product bug the property test found (all fixed; kept as regression tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import engine

from handlers.drafting.views import awaited
from handlers.review import timers
from handlers.review.policy import policy_for
from models.approvals import ApprovalDecision
from models.audit import AuditEntry
from models.lifecycle import TERMINAL, DeliveryState, PostState
from models.members import Member
from models.posts import Delivery, Post
from models.timers import Timer
from tasks.platforms import Publishers
from tasks.platforms.errors import OutcomeUnknown, Rejected
from tests.auxil.approval_model import Flaky, InvariantChecker, wipe_database
from tests.auxil.chat import Chat

ADMIN = "admin"
MEMBERS = (ADMIN, "ann", "ben", "cat", "dan", "eve")
ROLES = ("approver", "editor", "legal")
ACCOUNTS = ("acme", "beta", "corp")
WHO_ITEMS = tuple(f"@{m}" for m in MEMBERS) + tuple(f"role:{r}" for r in ROLES)
CRASH = "Something went wrong"


class BrokenInvariant(AssertionError):
    """One class per invariant, so that Hypothesis shrinks and reports each kind of failure separately."""


BROKEN = {n: type(f"BrokenInvariant{n}", (BrokenInvariant,), {}) for n in range(1, 9)}

who = st.lists(st.sampled_from(WHO_ITEMS), min_size=1, max_size=3, unique=True).map(",".join)
level = st.tuples(who, st.sampled_from(["", ":all", ":any"])).map("".join)
reminders = st.sampled_from(["", "remind=30m", "remind=off", "remind=2h before=30m", "before=off"])


@st.composite
def policy_words(draw: st.DrawFn) -> str:
    levels = draw(st.lists(level, min_size=1, max_size=3))
    words = [f"level{number}={spec}" for number, spec in enumerate(levels, 1)]
    if draw(st.integers(0, 7)) == 7:
        words.append(f"direct={draw(who)}")
    words.append(draw(reminders))
    return " ".join(w for w in words if w)


@st.composite
def teams(draw: st.DrawFn) -> list[tuple[str, str]]:
    """The setup as (member, command): roles, accounts, policies; members named by a policy speak first."""
    commands = [(ADMIN, "/whoami")]  # the first member to speak becomes admin
    for member in MEMBERS:
        for role in sorted(draw(st.sets(st.sampled_from(ROLES), max_size=2))):
            commands.append((ADMIN, f"/role add {member} {role}"))
    commands += [(ADMIN, f"/account add dryrun {account}") for account in ACCOUNTS]
    policies = []
    for target in (*ACCOUNTS, "default"):
        if draw(st.integers(0, 3)) < (3 if target != "default" else 1):
            policies.append((ADMIN, f"/policy set {target} {draw(policy_words())}"))
    named = {name for _, command in policies for name in re.findall(r"@([a-z]+)", command)}
    known = {ADMIN} | {command.split()[2] for _, command in commands if command.startswith("/role")}
    commands += [(name, "/whoami") for name in MEMBERS if name in named - known]  # /policy names only members
    return commands + policies


durations = st.one_of(st.integers(1, 600).map(lambda m: f"in {m}m"), st.integers(1, 48).map(lambda h: f"in {h}h"))
pick = st.integers(0, 99)  # an index, taken modulo whatever there is to choose from when the step runs


@dataclass(frozen=True)
class Step:
    """One step, drawn up front (so Hypothesis can drop steps when shrinking) and resolved when it runs.

    ``post`` picks among the posts that exist then (open ones three times as likely); ``who`` is
    ``candidate`` (someone the post's current level still waits for, if anyone), ``allowed`` (anyone
    that level names, also the author and those who decided already), ``author``, ``anyone`` or
    ``admin``; ``member`` picks among them.
    """

    kind: str
    post: int = 0
    who: str = "anyone"
    member: int = 0
    to: tuple[str, ...] = ()
    when: str | None = None
    minutes: int = 0
    down: bool = False  # advance: Herald was down meanwhile (else the dispatcher runs at every due time)
    outcome: str = ""  # break: how the next publish fails (rejected, or unknown: it may have gone out)

    def __repr__(self) -> str:
        shown = {k: v for k, v in vars(self).items() if k != "kind" and v != getattr(Step, k, None)}
        return f"Step({self.kind!r}, " + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


def steps_of(kind: str, weight: int, who: list[str] | None = None, **fields: st.SearchStrategy) -> list:  # type: ignore[type-arg]
    if who:  # a step on a post, by someone
        fields.update(post=pick, who=st.sampled_from(who), member=pick)
    # distinct objects: st.one_of drops repeated (identical) branches, which would lose the weight
    return [st.builds(Step, st.just(kind), **fields) for _ in range(weight)]


DECIDERS = ["candidate", "candidate", "allowed", "anyone", "author"]
MANAGERS = ["author", "author", "anyone", "admin"]
DRAFT_FIELDS = {
    "member": pick,  # the author
    "to": st.lists(st.sampled_from(ACCOUNTS), min_size=1, max_size=2, unique=True).map(tuple),
    "when": st.one_of(st.none(), durations),
}
STEP = st.one_of(
    *steps_of("draft", 3, **DRAFT_FIELDS),
    *steps_of("approve", 5, DECIDERS),
    *steps_of("approve_text", 1, DECIDERS),
    *steps_of("changes", 1, DECIDERS),
    *steps_of("reject", 1, DECIDERS),
    *steps_of("edit", 2, MANAGERS),
    *steps_of("withdraw", 1, MANAGERS),
    *steps_of("cancel", 1, MANAGERS),
    *steps_of("schedule", 2, MANAGERS, when=durations),
    *steps_of("publish", 1, MANAGERS),
    *steps_of("break", 2, outcome=st.sampled_from(["rejected", "unknown"])),
    *steps_of("retry", 1, MANAGERS),
    *steps_of("verify", 1, MANAGERS),
    *steps_of("republish", 1, MANAGERS),
    *steps_of(
        "advance",
        3,
        minutes=st.one_of(st.integers(1, 120), st.integers(1, 48).map(lambda h: 60 * h)),
        down=st.integers(0, 4).map(lambda n: n == 4),
    ),
)


class Machine:
    """One example: a fresh chat, its transcript, and the checker that remembers earlier states."""

    def __init__(self, crashes: list[str]) -> None:
        self.chat = Chat.build()
        self.flaky = Flaky()
        self.chat.runtime.publishers = Publishers({}, fallback=self.flaky)  # type: ignore[arg-type]
        self.crashes = crashes
        self.checker = InvariantChecker(self.flaky)
        self.transcript: list[str] = []
        self.counter = 0

    async def say(self, text: str, as_: str) -> str:
        reply = await self.chat.say(text, as_=as_)
        self.transcript.append(f"{as_}: {text}\n    -> {reply.replace(chr(10), chr(10) + '       ')}")
        if CRASH in reply:
            self.crashes.append(f"{as_}: {text} -> {reply}")
        return reply

    async def verify(self, *, dispatched: bool = False) -> None:
        problems = [f"internal error: {c} [inv 6]" for c in self.crashes]
        problems += await self.checker.problems(now=self.chat.clock.now() if dispatched else None)
        if problems:
            first = min(int(p.rsplit("[inv ", 1)[1].rstrip("]")) for p in problems)
            report = "\n".join(["Broken invariants:", *problems, "Transcript:", *self.transcript])
            raise BROKEN[first](report)

    async def setup(self, commands: list[tuple[str, str]]) -> None:
        for member, command in commands:
            await self.say(command, as_=member)
            assert not self.chat.errors, (command, self.chat.errors)
        await self.verify()

    async def pick_post(self, index: int, *, failed: bool = False) -> Post | None:
        """A post: open ones three times as likely (``failed``: failed ones, for /retry)."""
        posts = await Post.all().order_by("id")
        likely = [
            p for p in posts if (p.lifecycle_state == PostState.FAILED if failed else p.lifecycle_state not in TERMINAL)
        ]
        pool = likely * 3 + posts
        return pool[index % len(pool)] if pool else None

    async def pick_delivery(self, index: int) -> Delivery | None:
        """A delivery (those whose outcome is unknown three times as likely) and its post."""
        deliveries = await Delivery.all().order_by("id").prefetch_related("post")
        pool = [d for d in deliveries if d.state == DeliveryState.UNKNOWN.value] * 3 + deliveries
        return pool[index % len(pool)] if pool else None

    async def pick_actor(self, post: Post | None, who: str, index: int) -> str:
        if who == "admin":
            return ADMIN
        if post is not None and who == "author":
            return (await Member.get(id=post.author_id)).name  # type: ignore[attr-defined]
        if post is not None and who in {"candidate", "allowed"}:
            level = (await policy_for(post)).level(post.approval_level)
            decided = await ApprovalDecision.filter(post_id=post.id, version=post.version).values_list(
                "approver_id", flat=True
            )
            skip = {post.author_id, *decided} if who == "candidate" else set()  # type: ignore[attr-defined]
            names = [m.name for m in await level.candidates() if m.id not in skip]
            if names:
                return names[index % len(names)]
        return MEMBERS[index % len(MEMBERS)]

    def text(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix} number {self.counter}"

    async def dispatch(self, label: str) -> None:
        self.transcript.append(f"({label}, dispatcher runs at {self.chat.clock.now():%d %H:%M})")
        reports = await self.chat.publish_due()
        if reports:
            self.transcript.append("    -> " + reports.replace("\n", "\n       "))
        await self.verify(dispatched=True)

    async def next_due(self) -> datetime | None:
        delivery = await Delivery.filter(state="scheduled").order_by("due_at").first()
        timer = await Timer.filter(fired_at__isnull=True).order_by("run_at").first()
        times = [t for t in (delivery and delivery.due_at, timer and timer.run_at) if t is not None]
        return min(times) if times else None

    async def advance(self, minutes: int, down: bool) -> None:
        clock = self.chat.clock
        target = clock.now() + timedelta(minutes=minutes)
        if down:  # nothing ran in between: what came due is handled (or missed) when Herald is back
            self.transcript.append(f"(Herald down for {minutes}m)")
        else:  # a running dispatcher: a tick at every due time in between
            for _ in range(100):
                due = await self.next_due()
                if due is None or due > target:
                    break
                clock.current = max(clock.current, due)
                await self.dispatch("due")
        clock.current = target
        await self.dispatch(f"+{minutes}m")

    async def run(self, step: Step) -> None:
        if step.kind == "advance":
            await self.advance(step.minutes, step.down)
            return
        if step.kind == "break":
            failure = Rejected("Fake said no.") if step.outcome == "rejected" else OutcomeUnknown("Fake didn't answer.")
            self.flaky.next.append(failure)
            self.transcript.append(f"(the next publish fails: {step.outcome})")
            return
        if step.kind in {"verify", "republish"}:
            delivery = await self.pick_delivery(step.post)
            actor = await self.pick_actor(delivery.post if delivery else None, step.who, step.member)
            command = f"/{step.kind} {delivery.id if delivery else 1}"
        elif step.kind == "draft":
            at = f" --at {step.when}" if step.when else ""
            actor = MEMBERS[step.member % len(MEMBERS)]
            command = f"/draft --to {','.join(step.to)}{at} {self.text('Draft')}"
        else:
            post = await self.pick_post(step.post, failed=step.kind == "retry")
            pid = post.id if post is not None else 1
            actor = await self.pick_actor(post, step.who, step.member)
            command = {
                "approve": f"/approve {pid}",
                "approve_text": f"/approve {pid} --text {self.text('Approver edit')}",
                "changes": f"/changes {pid} please rework",
                "reject": f"/reject {pid} off brand",
                "edit": f"/edit {pid} {self.text('Author edit')}",
                "withdraw": f"/withdraw {pid}",
                "cancel": f"/cancel {pid}",
                "schedule": f"/schedule {pid} {step.when}",
                "publish": f"/publish {pid}",
                "retry": f"/retry {pid}",
            }[step.kind]
        await self.say(command, as_=actor)
        event(f"{step.kind}: {'refused' if self.chat.errors else 'done'}")
        await self.verify()


@pytest.fixture(autouse=True)
def _bounded_shrinking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis shrinks for up to 5 minutes, pytest's whole timeout here; a failure is reported after 1."""
    monkeypatch.setattr(engine, "MAX_SHRINKING_SECONDS", 60)  # documented as monkeypatchable


def watch_timers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Timers that raise are only logged by the dispatcher; collect them so they fail the example."""
    crashes: list[str] = []
    original = timers.fire

    async def fire(timer: Timer, services: object) -> None:
        try:
            await original(timer, services)  # type: ignore[arg-type]
        except Exception as exc:
            crashes.append(f"timer {timer.kind} of post {timer.post_id} raised {exc!r}")
            raise

    monkeypatch.setattr(timers, "fire", fire)
    return crashes


async def run_example(team: list[tuple[str, str]], steps: list[Step], crashes: list[str]) -> None:
    crashes.clear()
    await wipe_database()
    machine = Machine(crashes)
    await machine.setup(team)
    for step in steps:
        await machine.run(step)
    for state in sorted({p.state for p in await Post.all()}):
        event(f"a post ended {state}")


COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
}


# every session starts with a draft (else most early steps only meet "There is no post 1"), then 4–29 more steps
STEPS = st.tuples(
    steps_of("draft", 1, **DRAFT_FIELDS)[0],
    st.integers(4, 29).flatmap(lambda n: st.lists(STEP, min_size=n, max_size=n)),
)
SESSIONS = {"team": teams(), "steps": STEPS.map(lambda first_rest: [first_rest[0], *first_rest[1]])}


@settings(max_examples=80, **COMMON)  # type: ignore[arg-type]
@given(**SESSIONS)
async def test_random_approval_sessions_keep_invariants_sqlite(
    sqlite_db: str, monkeypatch: pytest.MonkeyPatch, team: list[tuple[str, str]], steps: list[Step]
) -> None:
    await run_example(team, steps, watch_timers(monkeypatch))


@pytest.mark.postgres
@settings(max_examples=15, **COMMON)  # type: ignore[arg-type]
@given(**SESSIONS)
async def test_random_approval_sessions_keep_invariants_postgres(
    pg_db: str, monkeypatch: pytest.MonkeyPatch, team: list[tuple[str, str]], steps: list[Step]
) -> None:
    await run_example(team, steps, watch_timers(monkeypatch))


# Publishing going wrong and a human putting it right: a plain team (any approver approves), most posts
# approved and published soon, publishes made to fail, and /retry, /verify, /republish, /cancel after.
FAILURE_TEAM = [
    (ADMIN, "/whoami"),
    (ADMIN, "/role add ann approver"),
    (ADMIN, "/role add ben approver"),
    *[(ADMIN, f"/account add dryrun {account}") for account in ACCOUNTS],
]
FAILURE_DRAFT = steps_of(
    "draft", 1, **{**DRAFT_FIELDS, "when": st.one_of(st.none(), st.integers(1, 30).map(lambda m: f"in {m}m"))}
)[0]
FAILURE_STEP = st.one_of(
    *steps_of("approve", 2, ["candidate"]),
    *steps_of("break", 1, outcome=st.sampled_from(["rejected", "unknown"])),
    *steps_of("advance", 2, minutes=st.integers(1, 90), down=st.just(False)),
    *steps_of("retry", 2, MANAGERS),
    *steps_of("verify", 2, MANAGERS),
    *steps_of("republish", 2, MANAGERS),
    *steps_of("cancel", 1, MANAGERS),
)
# episodes: a draft, its approval, maybe publishes made to fail, the dispatcher, then whatever follows
EPISODE = st.tuples(
    FAILURE_DRAFT,
    steps_of("approve", 1, ["candidate"])[0],
    st.lists(steps_of("break", 1, outcome=st.sampled_from(["rejected", "unknown"]))[0], max_size=2),
    steps_of("advance", 1, minutes=st.integers(1, 40), down=st.just(False))[0],
    st.lists(FAILURE_STEP, max_size=6),
).map(lambda e: [e[0], e[1], *e[2], e[3], *e[4]])
FAILURE_STEPS = st.lists(EPISODE, min_size=1, max_size=4).map(lambda episodes: [s for e in episodes for s in e])


@settings(max_examples=40, **COMMON)  # type: ignore[arg-type]
@given(steps=FAILURE_STEPS)
async def test_publish_failures_and_their_recovery_keep_invariants_sqlite(
    sqlite_db: str, monkeypatch: pytest.MonkeyPatch, steps: list[Step]
) -> None:
    await run_example(FAILURE_TEAM, steps, watch_timers(monkeypatch))


@pytest.mark.postgres
@settings(max_examples=10, **COMMON)  # type: ignore[arg-type]
@given(steps=FAILURE_STEPS)
async def test_publish_failures_and_their_recovery_keep_invariants_postgres(
    pg_db: str, monkeypatch: pytest.MonkeyPatch, steps: list[Step]
) -> None:
    await run_example(FAILURE_TEAM, steps, watch_timers(monkeypatch))


# --- the checker itself must notice a bad state -----------------------------------------------------


async def test_checker_rejects_hand_made_bad_states(sqlite_db: str) -> None:
    chat = Chat.build()
    await chat.say("/whoami", as_=ADMIN)
    await chat.say("/whoami", as_="ann")
    await chat.say("/whoami", as_="ben")
    await chat.say("/role add ann approver", as_=ADMIN)
    await chat.say("/role add ben approver", as_=ADMIN)
    await chat.say("/account add dryrun acme", as_=ADMIN)
    await chat.say("/policy set acme level1=@ann level2=role:approver:all", as_=ADMIN)
    await chat.say("/draft --to acme Hello there", as_=ADMIN)
    checker = InvariantChecker()
    assert await checker.problems() == []

    # approved at level 1 only, yet scheduled: inv 1 (level 2 missing) and inv 4 (audit says pending)
    await chat.say("/approve 1", as_="ann")
    await Post.filter(id=1).update(state=PostState.SCHEDULED.value)
    problems = "\n".join(await checker.problems())
    assert "level 2 (all of anyone with role approver) has no approval [inv 1]" in problems
    assert "latest audit entry with a state says pending_approval" in problems

    # the author decided (inv 2), a rejected post came back (inv 3), deliveries ahead of the post (inv 5)
    admin = await Member.get(name=ADMIN)
    await ApprovalDecision.create(post_id=1, version=1, level=2, approver=admin, decision="approve")
    await Post.filter(id=1).update(state=PostState.REJECTED.value)
    await AuditEntry.create(post_id=1, action="decision.reject", state=PostState.REJECTED.value, version=1)
    await checker.problems()
    await Post.filter(id=1).update(state=PostState.PENDING_APPROVAL.value)
    await Delivery.filter(post_id=1).update(state="scheduled")
    problems = "\n".join(await checker.problems())
    assert "its author decided approve on v1 level 2 [inv 2]" in problems
    assert "left the terminal state rejected for pending_approval [inv 3]" in problems
    assert "has deliveries ['scheduled'] [inv 5]" in problems


# --- product bugs the property test found, each as its smallest scenario ---------------------------


async def team(*approvers: str, policy: str | None = None) -> Chat:
    """``admin`` (admin, the author below), members ``approvers`` with role approver, account acme."""
    chat = Chat.build()
    await chat.say("/whoami", as_=ADMIN)
    for name in approvers:
        await chat.say("/whoami", as_=name)
        await chat.say(f"/role add {name} approver", as_=ADMIN)
    await chat.say("/account add dryrun acme", as_=ADMIN)
    if policy:
        await chat.say(f"/policy set acme {policy}", as_=ADMIN)
        assert not chat.errors, chat.errors
    return chat


async def latest_audited_state(post_id: int) -> str | None:
    entry = await AuditEntry.filter(post_id=post_id, state__isnull=False).order_by("-id").first()
    return entry.state if entry else None


async def test_rescheduling_an_expired_post_audits_its_new_state(sqlite_db: str) -> None:
    chat = await team("ann")
    await chat.say("/draft --to acme --at in 10m Hello", as_=ADMIN)
    chat.clock.advance(minutes=10)
    await chat.publish_due()
    assert (await Post.get(id=1)).state == PostState.EXPIRED
    await chat.say("/schedule 1 in 1h", as_=ADMIN)
    assert (await Post.get(id=1)).state == PostState.PENDING_APPROVAL
    assert await latest_audited_state(1) == PostState.PENDING_APPROVAL  # found by the property test, fixed in 334d67b


async def test_edit_and_approve_at_level_one_keeps_the_expiry(sqlite_db: str) -> None:
    chat = await team("ann", "ben", policy="level1=@ann,@ben:all")
    await chat.say("/draft --to acme --at in 1h Hello", as_=ADMIN)
    await chat.say("/approve 1 --text Hello world", as_="ann")
    assert (await Post.get(id=1)).version == 2  # still waits for ben at level 1
    chat.clock.advance(hours=2)
    await chat.publish_due()
    assert (await Post.get(id=1)).state == PostState.EXPIRED  # stays pending_approval; ben can still send it, late


async def test_rescheduling_a_post_waiting_for_changes_keeps_the_expiry(sqlite_db: str) -> None:
    chat = await team("ann")
    await chat.say("/draft --to acme Helo", as_=ADMIN)
    await chat.say("/changes 1 typo", as_="ann")
    await chat.say("/schedule 1 in 10m", as_=ADMIN)
    chat.clock.advance(minutes=11)
    await chat.publish_due()
    assert (await Post.get(id=1)).state == PostState.EXPIRED  # stays changes_requested past its due time


async def test_change_request_is_not_bypassed_by_expiry_and_reschedule(sqlite_db: str) -> None:
    chat = await team("ann", "ben", policy="level1=@ann,@ben:all")
    await chat.say("/draft --to acme --at in 10m Helo", as_=ADMIN)
    await chat.say("/changes 1 typo", as_="ann")
    chat.clock.advance(minutes=10)
    await chat.publish_due()
    assert (await Post.get(id=1)).state == PostState.EXPIRED
    await chat.say("/schedule 1 in 1h", as_=ADMIN)
    # Now pending_approval again, unchanged v1: ben may approve the text ann asked to change, and ann can't
    # approve ("You already sent back for changes post 1 at this level"), so level 1 can never complete.
    assert (await Post.get(id=1)).state != PostState.PENDING_APPROVAL


async def test_draft_nobody_can_fully_approve_is_refused(sqlite_db: str) -> None:
    chat = await team("ann")
    await chat.say("/policy set acme level1=@ann level2=role:approver", as_=ADMIN)  # ann is the only approver
    await chat.say("/draft --to acme Hello", as_=ADMIN)
    if chat.errors:
        return  # refused up front, as for "Nobody but you can approve level 2"
    await chat.say("/approve 1", as_="ann")
    post = await Post.get(id=1)
    waiting = await awaited(post, await policy_for(post))
    assert post.state == PostState.SCHEDULED or waiting  # pending at level 2, waiting for nobody, forever


async def test_edited_missed_post_needs_approval_again(sqlite_db: str) -> None:
    chat = await team("ann")
    await chat.say("/draft --to acme --at in 10m Hello", as_=ADMIN)
    await chat.say("/approve 1", as_="ann")
    chat.clock.advance(minutes=30)  # Herald was down past the due time and the grace window
    await chat.publish_due()
    assert (await Post.get(id=1)).state == PostState.MISSED
    await chat.say("/edit 1 Hello, never approved", as_=ADMIN)  # v2; the post stays missed
    await chat.say("/publish 1", as_=ADMIN)  # "Post 1 will be published now." (/schedule 1 in 1h: the same)
    await chat.publish_due()
    post = await Post.get(id=1)
    assert (post.version, post.text) == (2, "Hello, never approved")
    assert post.state != PostState.PUBLISHED  # published: v2 was never approved by anyone
