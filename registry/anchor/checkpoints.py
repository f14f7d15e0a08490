"""Named moments of an anchoring run, where an observer may hook in (nothing is hooked by default).

The moments, in the order a run passes them: ``after-stage-chunk`` (a chunk of checked files
staged), ``after-accept-chunk`` (a chunk of staged rows accepted into the outbox), ``after-timestamps``
(a new root's time-stamp tokens stored, its batch not yet created),
``before-broadcast`` (a batch's transaction recorded, not yet sent), ``after-broadcast`` (sent, not
yet mined) and ``after-batch`` (a batch anchored and its bundles queued). The crash tests and the
evaluation's crash scenario install a hook that holds the process at one of them to kill it there
(:mod:`registry.evaluate.hold`).
"""

from __future__ import annotations

from collections.abc import Callable

#: Called in order with the moment's name; empty unless a test or the evaluation installs one.
HOOKS: list[Callable[[str], None]] = []


def checkpoint(moment: str) -> None:
    """The run is at ``moment``: call every installed hook with it."""
    for hook in HOOKS:
        hook(moment)
