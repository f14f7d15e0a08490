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

from registry.errors import InputError
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
from registry.evaluate.runner import evaluate
from registry.evaluate.scenario import load_scenario, parse_scenario

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
    assert (
        log.root(0) == EMPTY_ROOT == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )
    assert [log.root(n).hex() for n in range(1, 9)] == VECTOR_ROOTS
    for index, size, path in VECTOR_INCLUSION:
        assert [p.hex() for p in log.inclusion_proof(index, size)] == path
        assert verify_inclusion(index, size, leaf_hash(VECTOR_LEAVES[index]), [bytes.fromhex(p) for p in path],
                                bytes.fromhex(VECTOR_ROOTS[size - 1]))  # fmt: skip
    for first, second, proof in VECTOR_CONSISTENCY:
        assert [p.hex() for p in log.consistency_proof(first, second)] == proof
        old, new = bytes.fromhex(VECTOR_ROOTS[first - 1]), bytes.fromhex(VECTOR_ROOTS[second - 1])
        assert verify_consistency(first, second, old, new, [bytes.fromhex(p) for p in proof])


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
    return [*_path(m, d[:k]), _mth(d[k:])] if m < k else [*_path(m - k, d[k:]), _mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    return [*_subproof(m, d[:k], b), _mth(d[k:])] if m <= k else [*_subproof(m - k, d[k:], False), _mth(d[:k])]


def _mutations(proof: list[bytes]) -> list[list[bytes]]:
    out = [[*proof, EMPTY_ROOT], proof[:-1], [EMPTY_ROOT, *proof]] if proof else [[EMPTY_ROOT]]
    for i in range(len(proof)):
        out.append([*proof[:i], bytes(32), *proof[i + 1 :]])
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


# ---------------------------------------------------------------------------- scenario keys


def test_alternatives_scenario_keys_have_defaults_and_are_checked() -> None:
    base = '[[offices]]\ncode = "EP"\nweekly_volume = 10\n'
    sc = parse_scenario(base, "t.toml")
    assert (sc.tsa_record_samples, sc.tsa_price_per_token, sc.log_server_cost_per_year) == (20, 0.02, 2400.0)
    sc = parse_scenario("[alternatives]\ntsa_price_per_token = 0\n" + base, "t.toml")
    assert sc.tsa_price_per_token == 0.0 and sc.to_json()["alternatives"]["tsaPricePerToken"] == 0.0
    with pytest.raises(InputError, match=r"unknown key.*tsa_price"):
        parse_scenario("[alternatives]\ntsa_price = 1\n" + base, "t.toml")
    with pytest.raises(InputError, match="log_server_cost_per_year"):
        parse_scenario("[alternatives]\nlog_server_cost_per_year = -1\n" + base, "t.toml")


# ---------------------------------------------------------------------------- a whole run, embedded


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("evaluate-alternatives")
    evaluate(load_scenario(builtin="small"), "embedded", out)
    body: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return out, body


def test_alternatives_take_exactly_the_pipelines_records(small_run: tuple[Path, dict[str, Any]]) -> None:
    _out, body = small_run
    alt, tp = body["alternatives"], body["throughput"]
    assert alt["records"] == tp["records"] == body["workload"]["pipelineRecords"] == alt["ctlog"]["entries"]
    assert alt["batches"] == tp["batches"] == alt["rfc3161"]["perBatch"]["requests"] == alt["ctlog"]["heads"]
    assert alt["recordsPerYear"] == 52 * sum(o["weeklyVolume"] for o in body["scenario"]["offices"])
    assert "alternatives" in body["phaseSeconds"]


def test_every_token_and_proof_checks_and_every_mutation_is_refused(small_run: tuple[Path, dict[str, Any]]) -> None:
    _out, body = small_run
    tsa, ct = body["alternatives"]["rfc3161"], body["alternatives"]["ctlog"]
    for mode in ("perBatch", "perRecord"):
        assert tsa[mode]["requests"] > 0 and tsa[mode]["valid"] == tsa[mode]["requests"]
        assert 500 < tsa[mode]["tokenBytes"] < tsa[mode]["bundleBytes"]
    assert tsa["perRecord"]["requests"] == body["scenario"]["alternatives"]["tsaRecordSamples"]
    # the authority stamps a hash no office anchored as readily: a token proves a time, not an origin
    assert tsa["foreignHashTokenStatus"] == "valid"
    assert ct["headsVerified"] == ct["heads"]
    for which in ("batchHead", "lastHead"):
        inc = ct["inclusion"][which]
        assert inc["proofs"] == ct["entries"] == inc["verified"]
        assert inc["bytesMax"] == 18 + 33 * inc["pathMax"]
    assert ct["inclusion"]["lastHead"]["pathMax"] == (ct["entries"] - 1).bit_length()
    assert ct["mutatedProofsRefused"] == ct["mutatedProofs"] > 0
    heads = ct["heads"]
    assert ct["consistency"]["proofs"] == 2 * (heads - 1) == ct["consistency"]["verified"]
    assert ct["officeSignedEntries"]["verified"] == ct["officeSignedEntries"]["samples"] == ct["entries"]


def test_a_split_view_passes_every_lone_check(small_run: tuple[Path, dict[str, Any]]) -> None:
    split = small_run[1]["alternatives"]["ctlog"]["splitView"]
    assert split["run"] and split["sameSizeDifferentRoots"] and split["bothHeadsSigned"]
    assert split["forkedEntryProvesInclusion"] and split["bothExtendOlderHead"]
    assert split["detectedWithoutComparingHeads"] is False and split["detectedByComparingHeads"] is True


def test_chain_costs_come_from_the_pipelines_receipts(small_run: tuple[Path, dict[str, Any]]) -> None:
    _out, body = small_run
    alt, cost = body["alternatives"], body["cost"]
    chain = alt["chain"]
    assert chain["gasUsed"] == sum(o["gasUsed"] for o in body["throughput"]["offices"]) > 0
    price = cost["gasPriceGwei"] * 1e-9 * cost["ethPrice"]
    assert chain["fiatPerRecord"] == pytest.approx(chain["gasUsed"] / chain["records"] * price)
    assert chain["fiatPerYear"] == pytest.approx(chain["gasUsed"] * 52 / body["scenario"]["weeks"] * price)
    costs = {r["figure"]: r for r in alt["comparison"]["costs"]}
    year = costs["money per year"]
    assert year["chain"] == chain["fiatPerYear"]
    assert year["rfc3161PerRecord"] == pytest.approx(alt["rfc3161"]["pricePerToken"] * alt["recordsPerYear"])
    assert year["rfc3161PerBatch"] == pytest.approx(alt["rfc3161"]["pricePerToken"] * alt["batchesPerYear"])
    assert year["ctlog"] == alt["ctlog"]["serverCostPerYear"]
    assert costs["operator requests per record"]["rfc3161PerRecord"] == 1
    assert costs["bytes a record's holder keeps"]["chain"] == chain["bundleBytesPerRecord"] > 0
    proves = [r["property"] for r in alt["comparison"]["proves"]]
    assert proves == ["time", "office origin", "unchanged content", "revocation / supersession",
                      "key compromise history", "append-only, no split view", "survives the operator",
                      "public verifiability without the operator"]  # fmt: skip
    assert all(r["chain"].startswith("yes") for r in alt["comparison"]["proves"])
    assert alt["comparison"]["proves"][1]["rfc3161"].startswith("no")


def test_sealed_counts_an_observer_reads_and_padding(small_run: tuple[Path, dict[str, Any]]) -> None:
    _out, body = small_run
    pv = body["alternatives"]["privacy"]
    assert pv["manifestCountsEqualStore"] is True
    pipeline_sealed = sum(o["sealedRecords"] for o in pv["offices"])
    assert pipeline_sealed == body["workload"]["sealedRecords"] == body["privacy"]["sealedRecords"] > 0
    assert pv["batchesWithSealed"] == pv["sealedPerBatch"]["batches"] > 0
    assert pv["sealedPerBatch"]["max"] == pv["padding"]["constant"]["perBatch"]
    assert (
        pv["padding"]["constant"]["dummies"]
        == pv["padding"]["constant"]["perBatch"] * pv["batches"] - pv["sealedRecords"]
    )
    assert pv["padding"]["constant"]["distinctCountsSeen"] == 1 < pv["padding"]["distinctCountsBefore"]
    cost = pv["paddingCost"]["constant"]
    assert cost["rfc3161ExtraTokens"] == cost["ctlogExtraEntries"] == cost["dummies"]
    assert cost["chainExtraManifestBytes"] == round(pv["sealedValueBytes"] * cost["dummies"])
    # the chain's gas does not grow with the leaf count: padding costs it (almost) nothing
    assert cost["chainExtraGas"] < 1_000


def test_report_shows_the_tables(small_run: tuple[Path, dict[str, Any]]) -> None:
    out, body = small_run
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<section id="alternatives">' in html and "What each proves" in html and "What each costs" in html
    assert "what sealed records" in html and "padding" in html
    assert html.index('id="summary"') < html.index('id="alternatives"')
    from registry.evaluate.report import headline

    assert any(row[0].startswith("CT-style log: split view") for row in headline(body))
