"""Item 8 of issue 25: the chain against RFC 3161 tokens alone and a CT-style log, measured in one run.

The log (``registry.evaluate.ctlog``) is checked three ways: against the published RFC 6962 known
answers (the Certificate Transparency / Trillian test vectors), against a brute-force recomputation of
the RFC's recursive definitions for every tree size and index up to 40, and by the independent verifier
(RFC 9162's iterative algorithms), which must accept every proof the log makes and refuse every
mutation of one. A small embedded evaluation then checks that the alternatives' figures agree with the
pipeline's records, the chain and each other.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.evaluate.ctlog import (
    EMPTY_ROOT,
    Log,
    TreeHead,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_head,
    verify_inclusion,
)

# ---------------------------------------------------------------------------- RFC 6962 known answers

#: The eight leaves of the CT test vectors (google/certificate-transparency, google/trillian merkle tests).
VECTOR_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                              "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
#: MTH of the first n leaves, n = 1..8.
VECTOR_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
#: (leaf index, tree size, path) of the Trillian verifier's inclusion vectors (indexes there are 1-based).
VECTOR_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
#: (first, second, proof) of the Trillian verifier's consistency vectors.
VECTOR_CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


def _key(n: int = 1) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"test log %d" % n).digest())


def _log(leaves: list[bytes], key: Ed25519PrivateKey | None = None) -> Log:
    log = Log(key or _key(), clock=lambda: 1_700_000_000.0)
    for leaf in leaves:
        log.append(leaf)
    return log


def test_known_answer_roots_and_proofs() -> None:
    log = _log(VECTOR_LEAVES)
    assert log.root(0) == EMPTY_ROOT == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert [log.root(n).hex() for n in range(1, 9)] == VECTOR_ROOTS
    for index, size, path in VECTOR_INCLUSION:
        assert [p.hex() for p in log.inclusion_proof(index, size)] == path
        assert verify_inclusion(index, size, leaf_hash(VECTOR_LEAVES[index]), [bytes.fromhex(p) for p in path],
                                bytes.fromhex(VECTOR_ROOTS[size - 1]))  # fmt: skip
    for first, second, proof in VECTOR_CONSISTENCY:
        assert [p.hex() for p in log.consistency_proof(first, second)] == proof
        assert verify_consistency(first, second, bytes.fromhex(VECTOR_ROOTS[first - 1]),
                                  bytes.fromhex(VECTOR_ROOTS[second - 1]), [bytes.fromhex(p) for p in proof])  # fmt: skip


# ---------------------------------------------------------------------------- brute force: the RFC's recursions


def _mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def _path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    return _path(m, d[:k]) + [_mth(d[k:])] if m < k else _path(m - k, d[k:]) + [_mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    return _subproof(m, d[:k], b) + [_mth(d[k:])] if m <= k else _subproof(m - k, d[k:], False) + [_mth(d[:k])]


def _mutations(proof: list[bytes]) -> list[list[bytes]]:
    out = [proof + [EMPTY_ROOT], proof[:-1], [EMPTY_ROOT, *proof]] if proof else [[EMPTY_ROOT]]
    for i in range(len(proof)):
        out.append(proof[:i] + [bytes(32)] + proof[i + 1 :])
    return [m for m in out if m != proof]


def test_log_matches_brute_force_and_verifier_accepts_only_true_proofs() -> None:
    data = [b"record %d" % i for i in range(40)]
    log = _log(data)
    for n in range(1, 41):
        d = data[:n]
        root = _mth(d)
        assert log.root(n) == root
        for m in range(n):
            path = log.inclusion_proof(m, n)
            assert path == _path(m, d)
            assert verify_inclusion(m, n, leaf_hash(d[m]), path, root)
            assert not verify_inclusion(m, n, leaf_hash(b"forged"), path, root)
            assert not verify_inclusion(m, 2 * n, leaf_hash(d[m]), path, root)  # another tree height
            assert m >= n // 2 or not verify_inclusion(m, n // 2, leaf_hash(d[m]), path, root)
            if n > 1:
                assert not verify_inclusion(m ^ 1 if m ^ 1 < n else m - 1, n, leaf_hash(d[m]), path, root)
            assert not any(verify_inclusion(m, n, leaf_hash(d[m]), bad, root) for bad in _mutations(path))
        for first in range(1, n + 1):
            proof = log.consistency_proof(first, n)
            assert proof == ([] if first == n else _subproof(first, d, True))
            old = _mth(data[:first])
            assert verify_consistency(first, n, old, root, proof)
            if first < n:
                assert not verify_consistency(first, n, _mth([b"other", *data[1:first]]), root, proof)
                assert not verify_consistency(first, n, old, _mth([*d[:-1], b"other"]), proof)
                assert not any(verify_consistency(first, n, old, root, bad) for bad in _mutations(proof))


def test_signed_heads_and_a_split_view() -> None:
    """Two views of one size, both signed by the log's key: each verifies alone, only a comparison finds them."""
    key = _key()
    common = [b"a", b"b", b"c"]
    honest = _log([*common, b"EP:1:B1 revoked"], key)
    forked = _log([*common, b"EP:1:B1 still valid"], key)
    h1, h2 = honest.sign_head(), forked.sign_head()
    assert verify_head(h1, key.public_key()) and verify_head(h2, key.public_key())
    assert h1.tree_size == h2.tree_size and h1.root != h2.root  # the evidence of a split view, if anyone compares
    assert not verify_consistency(h1.tree_size, h2.tree_size, h1.root, h2.root, [])
    tampered = TreeHead(h1.tree_size + 1, h1.timestamp, h1.root, h1.signature)
    assert not verify_head(tampered, key.public_key())
    assert not verify_head(h1, _key(2).public_key())
    assert len(h1.encode()) == 8 + 8 + 32 + 2 + 2 + 64
    # both views extend the common prefix: consistency with an older head does not reveal the fork
    old = honest.sign_head(3)
    assert verify_consistency(3, 4, old.root, h1.root, honest.consistency_proof(3, 4))
    assert verify_consistency(3, 4, old.root, h2.root, forked.consistency_proof(3, 4))
    assert node_hash(leaf_hash(b"a"), leaf_hash(b"b")) == honest.root(2)
