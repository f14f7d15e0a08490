"""The service's state and operations, one module per job; :class:`Service` composes them.

- :mod:`~registry.api.service.lifecycle`: construction, chain connection, per-thread stores, executors, health;
- :mod:`~registry.api.service.reads`: offices, batches, records, proofs, verification, published manifests;
- :mod:`~registry.api.service.writes`: tokens and keys, submissions, the outbox, batch runs, reveals, revocations;
- :mod:`~registry.api.service.loops`: the background batch and index loops.

Routes call these methods; the modules call the registry's library (store queries, the
:class:`~registry.anchor.pipeline.Anchorer` outbox pipeline, :mod:`registry.verify.verdicts`) and hold no SQL.
Nothing here runs at import: :func:`registry.api.create_app` builds one :class:`Service`.
"""

from __future__ import annotations

from registry.api.service.loops import Loops
from registry.api.service.reads import Reads

__all__ = ["Service"]


class Service(Loops, Reads):
    """One per app: the chain, stores (one per thread), signing keys, caches, the background loops."""

    def close(self) -> None:
        """Stop the background loops and executors and close every store connection."""
        self.stop_loop()
        self._shutdown()
