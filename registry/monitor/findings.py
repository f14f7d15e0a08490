"""A finding: one action on chain in an office's name (or about it) that its own tooling did not take.

:class:`Finding` is the one line of JSON the monitor prints, logs and posts; :func:`stop_key` and
:func:`discount_from` spell the commands it recommends (the office's own immediate mark, and the
governance mark from an earlier block), so every finding gives them the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

#: An action in the office's name that its tooling did not send (act now).
ALERT: Final = "alert"
#: Something about the office (or the whole registry) others did: review it.
NOTICE: Final = "notice"


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding; ``position`` is the event's place in its transaction (the dedupe key with tx and kind)."""

    kind: str
    severity: str
    office: str
    block: int
    transaction: str
    log_index: int
    position: int
    event: str
    key: str | None
    why: str
    actions: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The finding's JSON object (lowerCamelCase; no wall-clock time, so a replay prints the same line)."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "office": self.office,
            "block": self.block,
            "transaction": self.transaction,
            "logIndex": self.log_index,
            "event": self.event,
            "key": self.key,
            "why": self.why,
            "actions": list(self.actions),
            **({"details": self.details} if self.details else {}),
        }

    def line(self) -> str:
        """The finding as one line of JSON (stable key order)."""
        return json.dumps(self.to_json(), separators=(",", ":"))


def stop_key(office: str, key: str) -> str:
    """The office's own immediate stop of ``key`` (compromised from the block it is mined in)."""
    return (
        f"ipreg office compromise {key} --as {office}"
        " (stops the key from the block it is mined in; sign with a key the thief does not hold: if the"
        f" office has none, first `ipreg office keystore --office {office}` and ask governance:"
        f" ipreg office propose replace-signers {office} --signer NEW --as XX)"
    )


def discount_from(office: str, key: str, block: int) -> str:
    """The governance mark of ``key`` from ``block`` on (what it did since no longer counts)."""
    return (
        f"ipreg office propose mark-compromised {office} --signer {key} --from-block {block} --as {office}"
        " (governance: other offices approve with `ipreg office approve ID --as XX`; while the office is"
        " active it needs its own approval, so it proposes or approves it itself)"
    )


def review(office: str | None) -> str:
    """How to look at governance proposals."""
    return "ipreg office proposals" + (f" (those naming {office})" if office else "")
