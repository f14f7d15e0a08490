"""The audit: a whole gazette or office feed checked against the chain, with a report.

One job per module: ``expected`` (expected lists), ``hashing`` (publication files hashed on all
cores), ``bundles`` (a proofs folder's bundle index), ``snapshot`` (on-chain state at one block),
``report`` (rows, spill, summary, JSON), ``html`` (the HTML page and its plots), ``run``
(``audit_folder`` and ``audit_feed``). Their SQL lives in :mod:`registry.store.audit`.
"""
