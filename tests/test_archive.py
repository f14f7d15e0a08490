"""The chain archive on the embedded chain: the reader against the live contract views, and bad input.

What must never happen: a clean VERIFIED from the archive where the chain says UNAUTHORISED (a key nominated
by a key after that key's compromise block, removed before the mark: the events do not name its nominator);
a verdict that hides that the contracts' code was not proven; a traceback or partial output for a file that is
not an archive or a head hash without an archive.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from registry.archive.export import export_archive
from registry.archive.reader import ArchiveReader, load_archive, served_from_archive
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy_dev
from registry.chain.dev import dev_signer
from registry.core.batch import utc_iso
from registry.core.leaves import ZERO_HASH, LeafValue
from registry.core.proofs import BatchFacts, build_bundle
from registry.evaluate import actions
from registry.verify import verdict as v
from registry.verify.readers import LiveReader
from registry.verify.verifier import Verifier


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from registry.cli import _register, main

    _register()  # every command: main() would attach only the invoked one, for the whole process
    monkeypatch.setattr(sys, "argv", ["ipreg", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr()
    return int(exit_info.value.code or 0), out.out, out.err


def test_a_key_nominated_by_a_compromised_key_is_never_a_clean_verified(tmp_path: Path) -> None:
    chain = Chain(connect("embedded"))
    deploy_dev(chain)
    ep = dev_signer("EP")
    assert ep is not None
    thief_key = actions.spare_account(chain, 9)  # an EP key its thief holds
    actions.add_key(chain, ep, thief_key, "EP")
    stolen_from = int(chain.w3.eth.block_number)
    planted = actions.spare_account(chain, 10)
    actions.add_key(chain, thief_key, planted, "EP")  # nominated by the stolen key after its compromise block
    value = LeafValue("EP:1234567:B1", "0x" + "ab" * 32, "raw", ZERO_HASH)
    result = chain.anchor_batch(planted, value.leaf(), 1, "https://register.example.org/EP/x.json")
    dep = chain.deployment
    assert dep is not None
    facts = BatchFacts(
        dep.chain_id, dep.anchor_registry, "EP", "0x" + value.leaf().hex(), 1, result.transaction_hash,
        result.block_number, utc_iso(result.timestamp),
    )  # fmt: skip
    bundle = build_bundle(facts, value, ())
    chain.remove_signer(ep, planted.address)  # gone before the mark: no NominationVoided names it
    voters = [(c, a) for c in ("EP", "US", "JP", "EM", "WO") if (a := dev_signer(c))]
    actions.govern(chain, "mark-compromised", "EP", voters, signer=thief_key.address, from_block=stolen_from)

    live = Verifier(LiveReader(chain)).verify_bundle(bundle)
    assert (live.verdict, live.reason_code) == ("UNAUTHORISED", "signer-compromised")
    export_archive(chain, tmp_path / "a.json")
    reader = ArchiveReader(load_archive(tmp_path / "a.json"))
    got = served_from_archive(Verifier(reader).verify_bundle(bundle), reader)
    compromise = got.check(v.C_COMPROMISE)
    assert got.verdict != "VERIFIED" or (compromise is not None and compromise.result == v.NOT_CHECKED)
    assert "NOT CHECKED" in got.reason or got.verdict != "VERIFIED"
    assert all("contracts' code is not proven" in c.detail for c in got.checks if c.result in ("passed", "failed"))


def test_not_an_archive_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("not json")
    code, out, err = _main(monkeypatch, capsys, "archive", "check", str(bad))
    assert code == 1 and out == "" and err.startswith("error:") and "not JSON" in err and len(err.splitlines()) == 1
    bad.write_text('{"format": "something-else"}')
    code, out, err = _main(monkeypatch, capsys, "archive", "check", str(bad))
    assert code == 1 and "not a chain archive" in err and len(err.splitlines()) == 1
    code, out, err = _main(monkeypatch, capsys, "archive", "check", str(tmp_path / "missing.json"))
    assert code == 1 and "cannot read archive" in err


def test_archive_head_needs_an_archive(tmp_path: Path) -> None:
    import subprocess

    bundle = tmp_path / "b.json"
    bundle.write_text("{}")
    args = ["verify", "--proof", str(bundle), "--archive-head", "0x" + "ab" * 32, "--home", str(tmp_path)]
    ipreg = Path(sys.executable).parent / "ipreg"  # a process of its own: main() registers one command per process
    proc = subprocess.run([str(ipreg), *args], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1 and proc.stdout == "" and "--archive-head needs --archive" in proc.stderr
