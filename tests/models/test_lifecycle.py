"""The state machine: the RULES and DELIVERY_RULES tables, ``target_of``, the atomic ``advance`` and
``move_deliveries``; the pure states apart from the models, and the hot path's SQL built from the tables."""

from __future__ import annotations

import ast
import asyncio
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models import hotpath
from models.accounts import SocialAccount
from models.errors import InvalidTransition, NotFound
from models.lifecycle import (
    DELIVERY_RULES,
    RULES,
    TERMINAL,
    Action,
    DeliveryState,
    Move,
    PostState,
    advance,
    describe_refusal,
    move_deliveries,
    target_of,
)
from models.members import Member
from models.posts import Delivery, Post

S = PostState
A = Action
ALL_STATES = list(PostState)
KEEPS = object()  # the rule keeps the current state (target None)

# Written out by hand from the module's diagram, independently of RULES: (action, from) -> to.
LEGAL: dict[tuple[Action, PostState], PostState | object] = {
    (A.SUBMIT, S.DRAFT): S.PENDING_APPROVAL,
    (A.SUBMIT, S.CHANGES_REQUESTED): S.PENDING_APPROVAL,
    (A.SCHEDULE_DIRECT, S.DRAFT): S.SCHEDULED,
    (A.SCHEDULE_DIRECT, S.CHANGES_REQUESTED): S.SCHEDULED,
    (A.APPROVE_LEVEL, S.PENDING_APPROVAL): S.PENDING_APPROVAL,
    (A.APPROVE_FINAL, S.PENDING_APPROVAL): S.SCHEDULED,
    (A.REQUEST_CHANGES, S.PENDING_APPROVAL): S.CHANGES_REQUESTED,
    (A.REJECT, S.PENDING_APPROVAL): S.REJECTED,
    **{
        (A.WITHDRAW, s): S.CANCELLED
        for s in (S.DRAFT, S.PENDING_APPROVAL, S.CHANGES_REQUESTED, S.SCHEDULED, S.EXPIRED, S.MISSED)
    },
    **{
        (A.EDIT, s): KEEPS for s in (S.DRAFT, S.PENDING_APPROVAL, S.CHANGES_REQUESTED, S.SCHEDULED, S.EXPIRED, S.MISSED)
    },
    **{
        (A.CANCEL, s): S.CANCELLED
        for s in (S.DRAFT, S.PENDING_APPROVAL, S.CHANGES_REQUESTED, S.SCHEDULED, S.EXPIRED, S.MISSED, S.FAILED)
    },
    (A.START_PUBLISH, S.SCHEDULED): S.PUBLISHING,
    (A.START_PUBLISH, S.PUBLISHING): S.PUBLISHING,  # a redelivered start is harmless
    (A.FINISH_PUBLISHED, S.PUBLISHING): S.PUBLISHED,
    (A.FINISH_FAILED, S.PUBLISHING): S.FAILED,
    (A.RETRY, S.FAILED): S.SCHEDULED,
    (A.EXPIRE, S.PENDING_APPROVAL): S.EXPIRED,
    (A.EXPIRE, S.CHANGES_REQUESTED): S.EXPIRED,
    (A.MISS, S.SCHEDULED): S.MISSED,
    (A.RESCHEDULE, S.EXPIRED): KEEPS,
    (A.RESCHEDULE, S.MISSED): KEEPS,
    (A.RESCHEDULE, S.FAILED): KEEPS,
    (A.VERIFY, S.FAILED): S.PUBLISHED,  # the unknown outcome was a publish and every other delivery is out
    (A.VERIFY, S.PUBLISHING): S.PUBLISHED,
    (A.REPUBLISH, S.FAILED): S.SCHEDULED,
}
ILLEGAL = [(a, s) for a in Action for s in PostState if (a, s) not in LEGAL]


def _id(pair: tuple[Action, PostState]) -> str:
    return f"{pair[0].value}-from-{pair[1].value}"


# --- the table ---------------------------------------------------------------------------------------


def test_every_action_has_a_rule_and_the_table_matches_the_diagram() -> None:
    assert set(RULES) == set(Action)
    from_rules = {(a, s) for a, rule in RULES.items() for s in rule.sources}
    assert from_rules == set(LEGAL)
    for action, rule in RULES.items():
        assert rule.sources, action
        assert rule.phrase and not rule.phrase.endswith("."), action


@pytest.mark.parametrize("pair", list(LEGAL), ids=_id)
def test_target_of_legal_move(pair: tuple[Action, PostState]) -> None:
    action, current = pair
    expected = LEGAL[pair]
    assert target_of(action, current) == (current if expected is KEEPS else expected)


@pytest.mark.parametrize("pair", ILLEGAL, ids=_id)
def test_target_of_illegal_move_raises(pair: tuple[Action, PostState]) -> None:
    action, current = pair
    with pytest.raises(InvalidTransition) as info:
        target_of(action, current)
    assert str(info.value) == f"it is {current.label}, so it can't be {RULES[action].phrase}"


@pytest.mark.parametrize(
    ("action", "current", "sentence"),
    [
        (A.APPROVE_FINAL, S.REJECTED, "Post 7 is rejected, so it can't be approved."),
        (A.APPROVE_LEVEL, S.SCHEDULED, "Post 7 is approved and scheduled, so it can't be approved."),
        (A.SUBMIT, S.PENDING_APPROVAL, "Post 7 is awaiting approval, so it can't be submitted."),
        (A.REJECT, S.CHANGES_REQUESTED, "Post 7 is waiting for changes, so it can't be rejected."),
        (A.RETRY, S.PUBLISHED, "Post 7 is published, so it can't be retried."),
        (A.CANCEL, S.PUBLISHING, "Post 7 is publishing, so it can't be cancelled."),
        (A.EDIT, S.CANCELLED, "Post 7 is cancelled, so it can't be edited."),
        (A.MISS, S.DRAFT, "Post 7 is draft, so it can't be marked missed."),
        (A.RESCHEDULE, S.SCHEDULED, "Post 7 is approved and scheduled, so it can't be rescheduled."),
    ],
)
def test_refusal_sentences(action: Action, current: PostState, sentence: str) -> None:
    assert (action, current) not in LEGAL
    assert describe_refusal(7, action, current) == sentence


def test_terminal_states() -> None:
    assert set(TERMINAL) == {S.REJECTED, S.PUBLISHED, S.CANCELLED}
    for state in TERMINAL:
        ways_out = [a for a in Action if state in RULES[a].sources]
        assert ways_out == [], (state, ways_out)
        for action in Action:
            with pytest.raises(InvalidTransition):
                target_of(action, state)


def test_every_non_terminal_state_has_a_way_to_a_terminal_one() -> None:
    reachable = set(TERMINAL)
    changed = True
    while changed:
        changed = False
        for (_action, source), target in LEGAL.items():
            if target is not KEEPS and target in reachable and source not in reachable:
                reachable.add(source)
                changed = True
    assert reachable == set(PostState)


def test_labels() -> None:
    assert S.PENDING_APPROVAL.label == "awaiting approval"
    assert S.CHANGES_REQUESTED.label == "waiting for changes"
    assert S.SCHEDULED.label == "approved and scheduled"
    assert S.REJECTED.label == "rejected"


# --- advance, on SQLite and PostgreSQL -----------------------------------------------------------------


async def make_post(state: PostState = S.DRAFT, *, version: int = 1, text: str = "Hello") -> Post:
    author = await Member.get_or_none(name="alice") or await Member.create(name="alice", display_name="Alice")
    if not await SocialAccount.exists(handle="demo"):
        await SocialAccount.create(platform="dryrun", handle="demo")
    return await Post.create(author=author, text=text, state=state.value, version=version)


async def state_of(post_id: int) -> tuple[str, int]:
    post = await Post.get(id=post_id)
    return post.state, post.version


async def test_advance_applies_legal_moves_in_sequence(any_db: str) -> None:
    post = await make_post()
    assert post.id == 1
    steps = [
        (A.SUBMIT, S.PENDING_APPROVAL),
        (A.APPROVE_LEVEL, S.PENDING_APPROVAL),
        (A.REQUEST_CHANGES, S.CHANGES_REQUESTED),
        (A.SUBMIT, S.PENDING_APPROVAL),
        (A.APPROVE_FINAL, S.SCHEDULED),
        (A.START_PUBLISH, S.PUBLISHING),
        (A.START_PUBLISH, S.PUBLISHING),
        (A.FINISH_FAILED, S.FAILED),
        (A.RETRY, S.SCHEDULED),
        (A.START_PUBLISH, S.PUBLISHING),
        (A.FINISH_PUBLISHED, S.PUBLISHED),
    ]
    for action, expected in steps:
        assert await advance(post.id, action) == expected, action
        assert (await state_of(post.id))[0] == expected.value, action
    with pytest.raises(InvalidTransition, match=r"^Post 1 is published, so it can't be cancelled\.$"):
        await advance(post.id, A.CANCEL)


async def test_rejected_post_cannot_be_approved(any_db: str) -> None:
    post = await make_post(S.PENDING_APPROVAL)
    assert await advance(post.id, A.REJECT) == S.REJECTED
    for action in (A.APPROVE_FINAL, A.APPROVE_LEVEL):
        with pytest.raises(InvalidTransition) as info:
            await advance(post.id, action)
        assert str(info.value) == "Post 1 is rejected, so it can't be approved."
    assert await state_of(post.id) == ("rejected", 1)


@pytest.mark.parametrize(
    "pair",
    [
        (A.RETRY, S.DRAFT),
        (A.SUBMIT, S.SCHEDULED),
        (A.EDIT, S.PUBLISHED),
        (A.FINISH_PUBLISHED, S.SCHEDULED),
        (A.WITHDRAW, S.FAILED),
    ],
    ids=_id,
)
async def test_advance_refuses_illegal_move_and_changes_nothing(any_db: str, pair: tuple[Action, PostState]) -> None:
    action, current = pair
    post = await make_post(current, text="Unchanged")
    with pytest.raises(InvalidTransition) as info:
        await advance(post.id, action, bump_version=True, text="Changed")
    assert str(info.value) == describe_refusal(post.id, action, current)
    row = await Post.get(id=post.id)
    assert (row.state, row.version, row.text) == (current.value, 1, "Unchanged")


async def test_advance_missing_post_is_not_found(any_db: str) -> None:
    await make_post()
    with pytest.raises(NotFound, match=r"^There is no post 99\.$"):
        await advance(99, A.SUBMIT)


async def test_advance_stale_version(any_db: str) -> None:
    post = await make_post(S.PENDING_APPROVAL)
    edited = await advance(post.id, A.EDIT, expected_version=1, bump_version=True, text="v2")
    assert edited == S.PENDING_APPROVAL
    assert await state_of(post.id) == ("pending_approval", 2)
    with pytest.raises(InvalidTransition) as info:
        await advance(post.id, A.APPROVE_FINAL, expected_version=1)
    assert str(info.value) == "Post 1 changed while you were looking at it; please look again."
    assert await state_of(post.id) == ("pending_approval", 2)
    assert await advance(post.id, A.APPROVE_FINAL, expected_version=2) == S.SCHEDULED


async def test_advance_sets_changes_in_the_same_update(any_db: str) -> None:
    post = await make_post(S.DRAFT)
    due = datetime(2030, 1, 2, 9, 30, tzinfo=UTC)
    assert await advance(post.id, A.SCHEDULE_DIRECT, bump_version=True, due_at=due, text="New") == S.SCHEDULED
    row = await Post.get(id=post.id)
    assert (row.state, row.version, row.text, row.due_at) == ("scheduled", 2, "New", due)


async def test_keep_state_rules(any_db: str) -> None:
    post = await make_post(S.MISSED)
    # EDIT with no other change keeps the state (no-op UPDATE still has to match one row)
    assert await advance(post.id, A.EDIT) == S.MISSED
    # RESCHEDULE keeps the state unless the caller says where it goes
    assert await advance(post.id, A.RESCHEDULE) == S.MISSED
    assert await advance(post.id, A.RESCHEDULE, to=S.PENDING_APPROVAL) == S.PENDING_APPROVAL
    assert await state_of(post.id) == ("pending_approval", 1)
    # ``to`` does not override a rule that has its own target
    assert await advance(post.id, A.REJECT, to=S.SCHEDULED) == S.REJECTED
    assert (await state_of(post.id))[0] == "rejected"


async def test_extra_filters_make_the_update_conditional(any_db: str) -> None:
    post = await make_post(S.PENDING_APPROVAL)
    with pytest.raises(InvalidTransition, match="changed while you were looking"):
        await advance(post.id, A.APPROVE_FINAL, extra_filters={"approval_level": 2})
    assert (await state_of(post.id))[0] == "pending_approval"
    assert await advance(post.id, A.APPROVE_FINAL, extra_filters={"approval_level": 1}) == S.SCHEDULED


async def test_advance_touches_only_its_post(any_db: str) -> None:
    first = await make_post(S.PENDING_APPROVAL)
    second = await make_post(S.PENDING_APPROVAL)
    assert await advance(second.id, A.APPROVE_FINAL) == S.SCHEDULED
    assert (await state_of(first.id))[0] == "pending_approval"


# --- concurrency, PostgreSQL only ----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("bump_version", [False, True])
async def test_fifty_concurrent_final_approvals_one_wins(pg_db: str, bump_version: bool) -> None:
    post = await make_post(S.PENDING_APPROVAL)
    results = await asyncio.gather(
        *(advance(post.id, A.APPROVE_FINAL, expected_version=1, bump_version=bump_version) for _ in range(50)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert winners == [S.SCHEDULED]
    assert len(losers) == 49
    assert all(type(e) is InvalidTransition for e in losers), {type(e).__name__ for e in losers}
    assert {str(e) for e in losers} == {"Post 1 is approved and scheduled, so it can't be approved."}
    assert await state_of(post.id) == ("scheduled", 2 if bump_version else 1)


@pytest.mark.postgres
async def test_advance_huge_post_id_is_not_found_on_postgres(pg_db: str) -> None:
    await make_post()
    with pytest.raises(NotFound, match=r"^There is no post 99999999999\.$"):
        await advance(99_999_999_999, A.SUBMIT)


# --- deliveries ----------------------------------------------------------------------------------------

D = DeliveryState
# Written out by hand, independently of DELIVERY_RULES: move -> (from, to); None: the caller says.
DELIVERY_MOVES: dict[Move, tuple[set[DeliveryState], DeliveryState | None]] = {
    Move.RELEASE: ({D.WAITING}, D.SCHEDULED),
    Move.HOLD: ({D.SCHEDULED, D.QUEUED}, D.WAITING),
    Move.ENQUEUE: ({D.SCHEDULED}, D.QUEUED),
    Move.CLAIM: ({D.QUEUED}, D.PUBLISHING),
    Move.PUBLISH: ({D.PUBLISHING}, D.PUBLISHED),
    Move.FAIL: ({D.PUBLISHING}, D.FAILED),
    Move.LOSE: ({D.PUBLISHING}, D.UNKNOWN),
    Move.RETRY_LATER: ({D.PUBLISHING}, D.SCHEDULED),
    Move.REQUEUE: ({D.PUBLISHING}, D.QUEUED),
    Move.UNCLAIM: ({D.PUBLISHING}, None),
    Move.MISS: ({D.SCHEDULED, D.QUEUED, D.HELD}, D.MISSED),
    Move.CANCEL: ({D.WAITING, D.SCHEDULED, D.HELD}, D.CANCELLED),
    Move.RETRY: ({D.FAILED}, D.SCHEDULED),
    Move.VERIFY: ({D.UNKNOWN}, D.PUBLISHED),
    Move.REPUBLISH: ({D.UNKNOWN}, D.SCHEDULED),
    Move.RESCHEDULE: ({D.MISSED}, D.SCHEDULED),
    Move.PARK: ({D.PUBLISHING}, D.HELD),
    Move.UNPARK: ({D.HELD}, D.SCHEDULED),
}


def test_every_delivery_move_has_a_rule_and_the_table_matches() -> None:
    assert {m: (set(r.sources), r.target) for m, r in DELIVERY_RULES.items()} == DELIVERY_MOVES


async def test_move_deliveries_moves_only_those_in_a_source_state(any_db: str) -> None:
    post = await make_post(S.FAILED)
    account = await SocialAccount.create(platform="dryrun", handle="other")
    first = await SocialAccount.get(handle="demo")
    rows = [
        await Delivery.create(post=post, account=a, state=state.value, idempotency_key=uuid.uuid4().hex)
        for a, state in ((first, D.UNKNOWN), (account, D.PUBLISHED))
    ]
    assert await move_deliveries(Move.VERIFY, {"post_id": post.id}, url="https://x.invalid/1") == 1
    assert [(await Delivery.get(id=r.id)).state for r in rows] == ["published", "published"]
    assert (await Delivery.get(id=rows[0].id)).url == "https://x.invalid/1"
    assert (await Delivery.get(id=rows[1].id)).url is None  # not in a source state: untouched
    assert await move_deliveries(Move.VERIFY, {"post_id": post.id}) == 0  # nothing unknown any more
    with pytest.raises(ValueError, match="needs a target"):
        await move_deliveries(Move.UNCLAIM, {"post_id": post.id})


def test_the_hot_path_sql_takes_its_states_from_the_tables() -> None:
    source = Path(hotpath.__file__).read_text()
    states = {s.value for s in PostState} | {s.value for s in DeliveryState}
    assert not {m for m in re.findall(r"'([a-z_]+)'", source) if m in states}  # no state written out
    assert "state IN ('queued')" in hotpath.CLAIM and "state IN ('publishing', 'scheduled')" in hotpath.CLAIM


@pytest.mark.parametrize(("module", "absent"), [("models.states", "tortoise"), ("models.posts", "models.lifecycle")])
def test_states_are_pure_and_the_model_does_not_import_the_state_machine(module: str, absent: str) -> None:
    code = f"import sys, {module}; print({absent!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


ROOT = Path(__file__).resolve().parents[2]
# Where a post's or a delivery's state may be written outside models/: nowhere. A new row starts in the
# model's default state (draft, waiting); every change after that goes through advance or move_deliveries.
STATE_WRITERS_ALLOWED: frozenset[str] = frozenset()
RAW_STATE_UPDATE = re.compile(r"(?is)\bupdate\s+\"?(posts|deliveries)\"?\s.*\bset\b.*\bstate\b")


def _state_writes(source: str) -> list[int]:
    """The lines of ``source`` that set a ``state`` column by hand: ``.update(state=…)``,
    ``Post/Delivery.create(state=…)``, ``row.state = …``, ``update_fields=[…"state"…]``, raw ``UPDATE … SET state``."""
    found: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            keywords = {k.arg: k.value for k in node.keywords}
            receiver, method = node.func.value, node.func.attr
            model = isinstance(receiver, ast.Name) and receiver.id in {"Post", "Delivery"}
            if "state" in keywords and (method == "update" or (model and method.endswith("create"))):
                found.add(node.lineno)
            fields = keywords.get("update_fields")
            if isinstance(fields, ast.List | ast.Tuple) and any(
                isinstance(e, ast.Constant) and e.value == "state" for e in fields.elts
            ):
                found.add(node.lineno)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr == "state" for t in targets):
                found.add(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and RAW_STATE_UPDATE.search(node.value):
            found.add(node.lineno)
    return sorted(found)


def test_the_scan_finds_each_kind_of_state_write() -> None:
    sample = (
        "async def f(row, q):\n"
        "    await q.filter(id=1).update(state='published')\n"
        "    await Post.create(text='x', state='scheduled')\n"
        "    row.state = 'failed'\n"
        "    await row.save(update_fields=['state'])\n"
        "    sql = 'UPDATE deliveries SET state = $1 WHERE id = $2'\n"
        "    await AuditLog.create(state='published')\n"  # an audit entry records a state, it doesn't set one
        "    await q.update(due_at=None)\n"
        "    await Delivery.filter(state='scheduled').count()\n"
    )
    assert _state_writes(sample) == [2, 3, 4, 5, 6]


def test_only_the_state_machine_writes_post_and_delivery_state() -> None:
    """No module outside models/ sets a post's or a delivery's state itself: each change is a move in
    RULES or DELIVERY_RULES, applied by :func:`advance` or :func:`move_deliveries`."""
    writes = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in ("bot", "handlers", "tasks")
        for path in sorted((ROOT / package).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in STATE_WRITERS_ALLOWED
        for line in _state_writes(path.read_text())
    ]
    assert writes == []
