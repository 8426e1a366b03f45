"""The cyclic garbage collector, tuned for Herald's long-running processes.

Python's collector runs a young-generation pass every 700 new container objects and, every so often, a
full pass over everything alive. A worker in a burst creates tasks, futures, requests and responses by the
tens of thousands a second, and its heap holds every module, the ORM and the HTTP clients (over 100,000
objects): measured on ``bench/burst.py``, a worker spent about a third of its CPU in the collector, mostly
walking objects that live as long as the process. :func:`settle` moves those out of its way and lets the
young generation grow before a pass. Almost everything Herald allocates is freed by reference counting
anyway; the collector is only for cycles (an exception and its traceback, say), which still get collected.
"""

from __future__ import annotations

import gc
from typing import Final

#: New container objects between young passes (Python's default: 700), and how many passes of one
#: generation trigger a pass of the next (defaults: 10, 10).
THRESHOLDS: Final = (100_000, 20, 20)


def settle(*, space_passes: bool = True) -> None:
    """Call once start-up is done: what exists now lives as long as the process, so the collector's passes
    skip it from now on (``gc.freeze``); with ``space_passes`` (workers, dispatchers: throughput) the passes
    also come less often. A web process answering a burst of Slack clicks is bound by latency instead: it
    keeps Python's small, frequent young passes rather than risk a long one in the middle of the burst."""
    gc.freeze()
    if space_passes:
        gc.set_threshold(*THRESHOLDS)
