"""The garbage collector's tuning for long-running processes."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot import heap


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_settle_freezes_the_start_up_heap_and_spaces_the_passes(restored: None) -> None:
    heap.settle()

    assert gc.get_freeze_count() > 1000  # this process's modules, at least
    assert gc.get_threshold() == heap.THRESHOLDS
    assert heap.THRESHOLDS[0] > 700  # Python's default


def test_cycles_made_after_settle_are_still_collected(restored: None) -> None:
    heap.settle()
    a, b = Node(), Node()
    a.other, b.other = b, a  # only the cyclic collector can free these
    gone = weakref.ref(a)
    del a, b

    gc.collect()

    assert gone() is None


def test_a_web_process_keeps_pythons_pass_spacing(restored: None) -> None:
    gc.set_threshold(700, 10, 10)

    heap.settle(space_passes=False)

    assert gc.get_freeze_count() > 1000
    assert gc.get_threshold() == (700, 10, 10)
