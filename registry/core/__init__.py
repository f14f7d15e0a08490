"""Pure bytes: canonicalization, ST.3 and ST.96 tables, Merkle trees, record ids, leaf values and proof formats.

Nothing here does I/O, opens a database, talks to a chain or starts a thread or process; nothing
here imports the rest of the project but :mod:`registry.errors`.

- :mod:`~registry.core.canon` names the canonicalizations and dispatches to
  :mod:`~registry.core.xml_c14n2`, :mod:`~registry.core.json_jcs` and the frozen
  :mod:`~registry.core._canon_v2` and :mod:`~registry.core._canon_v1`; :mod:`~registry.core.json_limits`
  reads outside JSON safely.
- :mod:`~registry.core.records` record ids; :mod:`~registry.core.identify` the id a document gives itself;
  :mod:`~registry.core.leaves` leaf values and sealed commitments; :mod:`~registry.core.merkle` trees.
- :mod:`~registry.core.formats` the proof bundle and batch manifest formats (one field table each,
  machinery in :mod:`~registry.core.fields`); :mod:`~registry.core.proofs` the only place a bundle is built.

Usage::

    from registry.core import canon
    from registry.core.proofs import BatchFacts, build_bundle
    digest = canon.content_hash(data, canon.XML_C14N2)
    bundle = build_bundle(BatchFacts(chain_id, registry, "EP", root, n, tx_hash, block, at), value, tree.proof(i))
"""
