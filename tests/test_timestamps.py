"""RFC 3161 time-stamps in the anchoring pipeline and the Verifier, on the in-process EVM and a real local authority.

The authority is ``openssl ts -reply`` behind :class:`registry.node.tsa.LocalAuthority`, spoken to over HTTP
through the outbound fetch policy. What must never happen: a record lost or anchored twice because an
authority was down; a token over another root, or from an authority nobody trusts, shown as a valid time;
a missing token changing a record's verdict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.anchor.checkpoints import HOOKS
from registry.anchor.pipeline import Anchorer
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.config import EMBEDDED
from registry.core.formats import BatchManifest, ProofBundle
from registry.evaluate.samples import generate_gazette
from registry.files.ingest import prepare_files
from registry.node.tsa import LOCAL_POLICY, LocalAuthority
from registry.store.outbox import Store
from registry.store.timestamps import tokens_of
from registry.timestamps import AuthorityUnavailable, Stamper, TimestampConfig, load_config
from registry.timestamps.tokens import INVALID, UNCHECKED, UNTRUSTED, VALID
from registry.verify.readers import LiveReader
from registry.verify.verdict import ABSENT, C_TIMESTAMPS, FAILED, NOT_CHECKED, PASSED, VERIFIED, Verdict
from registry.verify.verifier import Verifier


@pytest.fixture
def chain() -> Chain:
    c = Chain(connect(EMBEDDED))
    deploy_dev(c)
    return c


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[LocalAuthority]:
    authority = LocalAuthority(tmp_path / "tsa-home")
    authority.start()
    yield authority
    authority.stop()


@pytest.fixture
def other_tsa(tmp_path: Path) -> LocalAuthority:
    """A second authority with its own root: nobody configured trusts it."""
    return LocalAuthority(tmp_path / "other-home").ensure()


def config(tsa: LocalAuthority, home: Path, **overrides: object) -> TimestampConfig:
    cfg = load_config(home, [tsa.url], [tsa.root_cert], LOCAL_POLICY, ["127.0.0.0/8"])
    return dataclasses.replace(cfg, retry_delay=0.0, **overrides)  # type: ignore[arg-type]


def anchorer(tmp_path: Path, chain: Chain, stamper: Stamper | None, batch_size: int = 10_000) -> Anchorer:
    account = dev_signer("EP")
    assert account is not None
    return Anchorer(
        Store(tmp_path / "store.sqlite"),
        chain,
        account,
        "EP",
        tmp_path / "manifests",
        batch_size=batch_size,
        stamper=stamper,
    )


def submit(tmp_path: Path, a: Anchorer, count: int, seed: int = 1) -> None:
    files = generate_gazette(tmp_path / f"g{seed}", office="EP", count=count, seed=seed)
    assert a.submit(prepare_files(files)).accepted == count


def verifier(chain: Chain, cfg: TimestampConfig, **overrides: object) -> Verifier:
    anchors = overrides.get("anchors", cfg.anchors)
    return Verifier(LiveReader(chain), timestamp_anchors=anchors, timestamp_tolerance=cfg.tolerance)  # type: ignore[arg-type]


def bundles(folder: Path) -> list[ProofBundle]:
    return [ProofBundle.loads(p.read_bytes()) for p in sorted(folder.glob("*.proof.json"))]


def anchored_events(chain: Chain) -> list[str]:
    return ["0x" + bytes(e.args.root).hex() for e in chain.anchors.events.BatchAnchored().get_logs(from_block=0)]


def stamp_check(verdict: Verdict) -> tuple[str, str]:
    check = verdict.check(C_TIMESTAMPS)
    assert check is not None
    return check.result, check.detail


# ---------------------------------------------------------------------------- tokens in every batch and bundle


def test_every_batch_root_gets_a_token_carried_by_its_bundles_and_manifest(
    tmp_path: Path, chain: Chain, tsa: LocalAuthority
) -> None:
    cfg = config(tsa, tmp_path)
    a = anchorer(tmp_path, chain, Stamper(cfg), batch_size=3)
    submit(tmp_path, a, 7)
    result = a.run(tmp_path / "proofs")
    assert [b.leaf_count for b in result.batches] == [3, 3, 1]
    assert tsa.queries == 3  # one request per root
    for batch in result.batches:
        (token,) = result.tokens[batch.root]
        assert token.authority == tsa.url
        manifest = (tmp_path / "manifests" / "EP" / f"{batch.root}.json").read_bytes()
        assert BatchManifest.loads(manifest, office="EP", root=batch.root).timestamps == (token,)
    v = verifier(chain, cfg)
    for bundle in bundles(tmp_path / "proofs"):
        assert bundle.timestamps == result.tokens[bundle.root]
        verdict = v.verify_bundle(bundle)
        assert verdict.verdict == VERIFIED and "TIME-STAMP" not in verdict.reason
        assert stamp_check(verdict)[0] == PASSED
        (shown,) = verdict.timestamps
        assert shown.status == VALID and shown.time is not None and shown.policy == LOCAL_POLICY
        assert shown.signer is not None and "ipreg local test TSA" in shown.signer  # who signed, not the label
        assert verdict.anchored_at is not None  # the block's time, shown beside the authority's
        assert verdict.to_json()["timestamps"][0]["time"] == shown.time


def test_a_bundle_round_trips_its_tokens_and_one_without_keeps_its_old_bytes(
    tmp_path: Path, chain: Chain, tsa: LocalAuthority
) -> None:
    cfg = config(tsa, tmp_path)
    a = anchorer(tmp_path, chain, Stamper(cfg))
    submit(tmp_path, a, 2)
    a.run(tmp_path / "proofs")
    for bundle in bundles(tmp_path / "proofs"):
        text = bundle.dumps()
        assert ProofBundle.loads(text) == bundle and '"timestamps": [{"authority": ' in text
        bare = dataclasses.replace(bundle, timestamps=())
        assert "timestamps" not in bare.dumps()  # written exactly as before the field existed
        assert list(bare.to_json())[-1] == "anchoredAt"
    for path in (tmp_path / "proofs").glob("*.proof.json"):  # the fast renderer writes what dumps() writes
        assert path.read_text() == ProofBundle.loads(path.read_bytes()).dumps()


# ---------------------------------------------------------------------------- outages: nothing lost, nothing twice


def test_an_authority_outage_loses_nothing_anchors_nothing_and_a_rerun_resumes(
    tmp_path: Path, chain: Chain, tsa: LocalAuthority
) -> None:
    cfg = config(tsa, tmp_path, attempts=3)
    waits: list[float] = []
    stamper = Stamper(cfg, sleep=waits.append)
    a = anchorer(tmp_path, chain, stamper, batch_size=4)
    submit(tmp_path, a, 6)
    tsa.available = False
    with pytest.raises(AuthorityUnavailable, match="records stay pending"):
        a.run(tmp_path / "proofs")
    assert waits == [0.0, 0.0]  # retried: 3 attempts, 2 waits
    assert a.store.pending_count("EP") == 6 and a.store.batches("EP") == []
    assert anchored_events(chain) == [] and not list((tmp_path / "proofs").glob("*"))
    tsa.available = True
    result = a.run(tmp_path / "proofs")
    assert a.store.pending_count("EP") == 0 and result.records == 6
    assert sorted(anchored_events(chain)) == sorted(b.root for b in result.batches)
    assert all(b.timestamps for b in bundles(tmp_path / "proofs")) and len(bundles(tmp_path / "proofs")) == 6


def test_an_outage_in_the_middle_of_a_run_keeps_what_was_anchored_and_the_rerun_anchors_the_rest_once(
    tmp_path: Path, chain: Chain, tsa: LocalAuthority
) -> None:
    cfg = config(tsa, tmp_path, attempts=2)
    inner = Stamper(cfg, sleep=lambda _s: None)
    calls = [0]

    def flaky(root: str, have: frozenset[str]) -> list:  # type: ignore[type-arg]
        calls[0] += 1
        tsa.available = calls[0] == 1  # the authority goes down after the first batch
        return inner(root, have)

    a = anchorer(tmp_path, chain, None, batch_size=2)
    a.stamper = flaky
    submit(tmp_path, a, 5)
    with pytest.raises(AuthorityUnavailable) as stopped:
        a.run(tmp_path / "proofs")
    done = stopped.value.result
    assert done is not None and [b.leaf_count for b in done.batches] == [2]  # type: ignore[attr-defined]
    assert len(bundles(tmp_path / "proofs")) == 2  # the anchored batch's bundles were still written
    assert a.store.pending_count("EP") == 3 and len(anchored_events(chain)) == 1
    tsa.available = True
    a.stamper = inner
    result = a.run(tmp_path / "proofs")
    assert [b.leaf_count for b in result.batches] == [2, 1]
    events = anchored_events(chain)
    assert len(events) == len(set(events)) == 3  # every root once
    assert a.store.pending_count("EP") == 0 and len(bundles(tmp_path / "proofs")) == 5


def test_a_transient_outage_is_retried_within_the_run(tmp_path: Path, chain: Chain, tsa: LocalAuthority) -> None:
    retried: list[tuple[str, int]] = []

    def wait(_seconds: float) -> None:
        tsa.available = True  # back after the first wait

    stamper = Stamper(config(tsa, tmp_path), sleep=wait, on_retry=lambda url, n, _p: retried.append((url, n)))
    a = anchorer(tmp_path, chain, stamper)
    submit(tmp_path, a, 2)
    tsa.available = False
    result = a.run(tmp_path / "proofs")
    assert retried == [(tsa.url, 1)] and len(result.batches) == 1 and result.tokens[result.batches[0].root]


def test_tokens_stored_before_a_crash_are_reused_not_fetched_again(
    tmp_path: Path, chain: Chain, tsa: LocalAuthority
) -> None:
    a = anchorer(tmp_path, chain, Stamper(config(tsa, tmp_path)))
    submit(tmp_path, a, 3)

    def crash(moment: str) -> None:
        if moment == "after-timestamps":
            raise KeyboardInterrupt

    HOOKS.append(crash)
    try:
        with pytest.raises(KeyboardInterrupt):
            a.run(tmp_path / "proofs")
    finally:
        HOOKS.remove(crash)
    assert tsa.queries == 1 and a.store.batches("EP") == [] and a.store.pending_count("EP") == 3
    result = a.run(tmp_path / "proofs")
    assert tsa.queries == 1  # the stored token was used
    (batch,) = result.batches
    assert tokens_of(a.store, batch.root) == result.tokens[batch.root] and len(anchored_events(chain)) == 1


def test_an_authority_at_an_internal_address_is_refused_unless_its_range_is_allowed(
    tmp_path: Path, chain: Chain, tsa: LocalAuthority
) -> None:
    cfg = dataclasses.replace(config(tsa, tmp_path, attempts=1), allow_networks=())
    a = anchorer(tmp_path, chain, Stamper(cfg))
    submit(tmp_path, a, 1)
    with pytest.raises(AuthorityUnavailable, match="non-public address"):
        a.run()
    assert tsa.queries == 0 and a.store.pending_count("EP") == 1


# ---------------------------------------------------------------------------- the Verifier's check


@pytest.fixture
def two_batches(tmp_path: Path, chain: Chain, tsa: LocalAuthority) -> tuple[TimestampConfig, list[ProofBundle]]:
    cfg = config(tsa, tmp_path)
    a = anchorer(tmp_path, chain, Stamper(cfg), batch_size=1)
    submit(tmp_path, a, 2)
    a.run(tmp_path / "proofs")
    found = bundles(tmp_path / "proofs")
    assert len({b.root for b in found}) == 2
    return cfg, found


def test_a_token_swapped_for_one_over_another_root_is_reported_invalid_and_shows_no_time(
    chain: Chain, two_batches: tuple[TimestampConfig, list[ProofBundle]]
) -> None:
    cfg, (first, second) = two_batches
    swapped = dataclasses.replace(first, timestamps=second.timestamps)
    verdict = verifier(chain, cfg).verify_bundle(swapped)
    assert verdict.verdict == VERIFIED  # the record itself is anchored and intact
    result, detail = stamp_check(verdict)
    assert result == FAILED and "another root" in detail
    (shown,) = verdict.timestamps
    assert shown.status == INVALID and shown.time is None
    assert "TIME-STAMP NOT ACCEPTED" in verdict.reason and "another root" in verdict.reason


def test_a_token_from_an_untrusted_authority_is_reported_as_such(
    chain: Chain, two_batches: tuple[TimestampConfig, list[ProofBundle]], other_tsa: LocalAuthority, tmp_path: Path
) -> None:
    cfg, (first, _) = two_batches
    foreign = load_config(tmp_path, cert_files=[other_tsa.root_cert]).anchors  # trusts only the other root
    verdict = verifier(chain, cfg, anchors=foreign).verify_bundle(first)
    (shown,) = verdict.timestamps
    assert shown.status == UNTRUSTED and shown.time is None
    assert stamp_check(verdict)[0] == FAILED and "untrusted authority" in verdict.reason


def test_a_tampered_token_is_invalid(chain: Chain, two_batches: tuple[TimestampConfig, list[ProofBundle]]) -> None:
    cfg, (first, _) = two_batches
    (entry,) = first.timestamps
    broken = bytearray(entry.token)
    broken[-8] ^= 0x01  # inside the signature
    tampered = dataclasses.replace(first, timestamps=(dataclasses.replace(entry, token=bytes(broken)),))
    (shown,) = verifier(chain, cfg).verify_bundle(tampered).timestamps
    assert shown.status == INVALID and shown.time is None


def test_a_missing_token_leaves_the_verdict_and_its_reason_unchanged(
    chain: Chain, two_batches: tuple[TimestampConfig, list[ProofBundle]]
) -> None:
    cfg, (first, _) = two_batches
    with_token = verifier(chain, cfg).verify_bundle(first)
    without = verifier(chain, cfg).verify_bundle(dataclasses.replace(first, timestamps=()))
    assert (without.verdict, without.reason, without.reason_code) == (
        with_token.verdict,
        with_token.reason,
        with_token.reason_code,
    )
    result, detail = stamp_check(without)
    assert result == ABSENT and "no time-stamp token" in detail and without.timestamps == ()


def test_without_trust_anchors_a_token_is_not_checked_and_its_time_not_shown(
    chain: Chain, two_batches: tuple[TimestampConfig, list[ProofBundle]]
) -> None:
    cfg, (first, _) = two_batches
    verdict = verifier(chain, cfg, anchors=()).verify_bundle(first)
    (shown,) = verdict.timestamps
    assert shown.status == UNCHECKED and shown.time is None
    assert stamp_check(verdict)[0] == NOT_CHECKED and "NOT CHECKED: timeStamps" in verdict.reason


def test_a_token_far_from_the_block_time_disagrees(
    chain: Chain, two_batches: tuple[TimestampConfig, list[ProofBundle]]
) -> None:
    cfg, (first, _) = two_batches
    late = dataclasses.replace(first, anchored_at="2020-01-01T00:00:00Z")  # the chain's own time is what counts
    verdict = verifier(chain, cfg).verify_bundle(late)
    assert verdict.timestamps[0].status == VALID  # the verifier reads the block's time from the chain
    from datetime import UTC, datetime

    from registry.timestamps.tokens import DISAGREES, check_token

    check = check_token(first.timestamps[0], first.root, cfg.anchors, datetime(2020, 1, 1, tzinfo=UTC), cfg.tolerance)
    assert check.status == DISAGREES and check.time is not None and "after the block" in check.detail
