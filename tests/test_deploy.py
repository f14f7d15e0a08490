"""Genesis files and deployments on the in-process EVM: strict parsing, and a verifier that cannot be fooled.

What must never happen: a genesis with a typo deploying silently (unknown key, bad checksum, an
unsafe governance rule); ``ipreg deployment verify`` passing for code other than the shipped build,
for another genesis than the one given, or for a deployment file whose recorded genesis was edited.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from registry.chain.artifacts import artifact_set, mask_immutables, matching_set
from registry.chain.client import Chain, connect
from registry.chain.deploy import deploy
from registry.chain.deploy_checks import verify_deployment
from registry.chain.deployments import Deployment, DeploymentRecord
from registry.chain.dev import dev_account
from registry.chain.genesis import Genesis, GenesisError, GenesisOffice
from registry.config import EMBEDDED
from registry.core.contract import GovernanceRule
from registry.node.toolchain import REPO_ROOT

EXAMPLE = REPO_ROOT / "local-chain" / "genesis.example.toml"


def doc() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text())


def three(min_approvals: int = 2) -> Genesis:
    offices = [
        GenesisOffice(c, f"Office {c}", f"https://{c.lower()}.example.org/", (str(dev_account(i).address),))
        for i, c in enumerate(("EP", "US", "JP"), start=1)
    ]
    return Genesis.of(offices, GovernanceRule(min_approvals=min_approvals))


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain(connect(EMBEDDED))


def failed(checks: list[Any]) -> set[str]:
    return {c.name for c in checks if not c.ok}


# ---------------------------------------------------------------------------- genesis files


def test_example_parses() -> None:
    g = Genesis.load(EXAMPLE)
    assert [o.code for o in g.offices] == ["EP", "US", "JP", "EM", "WO"]
    assert (g.rule, g.chain_id, g.evm_version, g.confirmations) == (GovernanceRule(1, 2, 2, 302400), 20260, "paris", 1)
    assert g.rule.required(5) == 3
    assert all(Web3.is_checksum_address(s) for o in g.offices for s in o.signers)
    assert Genesis.from_json(g.to_json()) == g


def _with(change: dict[str, Any], office: dict[str, Any] | None = None) -> dict[str, Any]:
    d = doc()
    d.update(change)
    if office is not None:
        d["offices"][1].update(office)
    return d


RULE = {"numerator": 1, "denominator": 2, "min_approvals": 2, "proposal_ttl_blocks": 100}

BAD: list[tuple[dict[str, Any], dict[str, Any] | None, str]] = [
    ({"format": "ipreg-genesis-v0"}, None, "format must be"),
    ({"thresold": 3}, None, "unknown key"),
    ({"governance": RULE | {"numerator": 1, "denominator": 3}}, None, "at least 1/2"),
    ({"governance": RULE | {"numerator": 2, "denominator": 2}}, None, "below 1"),
    ({"governance": RULE | {"denominator": 0}}, None, "at least 1/2"),
    ({"governance": RULE | {"min_approvals": 1}}, None, "min_approvals 1 must be at least 2"),
    ({"governance": RULE | {"proposal_ttl_blocks": 0}}, None, "between 1 and 1000000"),
    ({"governance": RULE | {"proposal_ttl_blocks": 1_000_001}}, None, "between 1 and 1000000"),
    ({"governance": RULE | {"numerator": 70000, "denominator": 70001}}, None, "16 bits"),
    ({"governance": RULE | {"min_approvals": True}}, None, "min_approvals must be an integer"),
    ({"governance": {"numerator": 1}}, None, "is missing"),
    ({"governance": RULE | {"threshold": 3}}, None, "unknown key"),
    ({"offices": [doc()["offices"][0]]}, None, "at least 2"),
    ({"evm_version": "osaka"}, None, "is not shipped"),
    ({"chain_id": 0}, None, "chain_id must be"),
    ({"offices": []}, None, "at least one office"),
    ({}, {"code": "XX"}, "not a WIPO ST.3"),
    ({}, {"code": "ep"}, "not a WIPO ST.3"),
    ({}, {"code": "EP"}, "appears twice"),
    ({}, {"name": " "}, "name must be a non-empty"),
    ({}, {"base_uri": "ftp://x"}, "http(s)://"),
    ({}, {"base_uri": "https://x\n"}, "control characters"),
    ({}, {"signers": []}, "signers must list"),
    ({}, {"signers": ["0x" + "00" * 20]}, "zero address"),
    ({}, {"signers": ["0xc9C89DcC04aB91D11eB6Ec798D5bdDBA5F334Aa5"]}, "checksum"),
    ({}, {"signers": ["0x1234"]}, "not an Ethereum address"),
    ({}, {"signers": ["0xeeDfEaf41d982e0Be20bddB5ed9Eb9E0960c1E23"]}, "listed for EP and US"),
    ({}, {"signers": [str(Account.create().address), str(Account.create().address)]}, "takes 1 per genesis office"),
    ({}, {"registry": "x"}, "unknown key"),
]


@pytest.mark.parametrize(("change", "office", "message"), BAD)
def test_bad_genesis_is_refused_naming_the_problem(
    change: dict[str, Any], office: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(GenesisError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Genesis.from_mapping(_with(change, office), "g.toml")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(GenesisError, match="cannot read"):
        Genesis.load(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("format = ")
    with pytest.raises(GenesisError, match="not valid TOML"):
        Genesis.load(tmp_path / "bad.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(GenesisError, match="not UTF-8"):
        Genesis.load(tmp_path / "bin.toml")


def test_lowercase_addresses_are_checksummed() -> None:
    d = _with({}, {"signers": ["0xc9c89dcc04ab91d11eb6ec798d5bddba5f334aa5"]})
    assert Genesis.from_mapping(d).offices[1].signers == ("0xC9c89DcC04aB91D11eB6Ec798D5bdDBA5F334Aa5",)


def test_digest_names_only_what_the_chain_holds() -> None:
    g = Genesis.load(EXAMPLE)
    assert dataclasses.replace(g, chain_id=1, evm_version="prague", confirmations=9).digest() == g.digest()
    assert dataclasses.replace(g, rule=GovernanceRule(2, 3, 2, 302400)).digest() != g.digest()
    assert Genesis.of(tuple(reversed(g.offices)), g.rule).digest() != g.digest()  # order is the admission order


JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10), st.text(max_size=12), st.lists(st.text(max_size=5), max_size=3)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=st.sampled_from(["code", "name", "base_uri", "signers", "extra"]),
    value=JUNK,
    rule_key=st.sampled_from(["numerator", "denominator", "min_approvals", "proposal_ttl_blocks"]),
    rule_value=JUNK,
)
def test_any_mutation_is_refused_or_yields_a_consistent_genesis(
    key: str, value: Any, rule_key: str, rule_value: Any
) -> None:
    d = doc()
    d["offices"][2][key] = value
    d["governance"][rule_key] = rule_value
    try:
        g = Genesis.from_mapping(d)
    except GenesisError as exc:
        assert exc.diagnostics().startswith("genesis")
        return
    codes = [o.code for o in g.offices]
    assert len(set(codes)) == len(codes) == 5
    r = g.rule
    assert 2 * r.numerator >= r.denominator > r.numerator and r.min_approvals >= 2 and 1 <= r.ttl_blocks <= 10**6
    assert 2 <= r.required(5) <= 5
    signers = [s.lower() for o in g.offices for s in o.signers]
    assert len(set(signers)) == len(signers)
    assert all(Web3.is_checksum_address(s) for o in g.offices for s in o.signers)


# ---------------------------------------------------------------------------- deploy and verify


def test_deploy_records_steps_and_verifies(chain: Chain, tmp_path: Path) -> None:
    g = three()
    record = deploy(chain, dev_account(0), g, evm_version="paris")
    assert [s.contract for s in record.steps] == ["OfficeRegistry", "AnchorRegistry"]
    assert record.deployment.office_registry == record.steps[0].address
    assert record.deployment.block_number == record.steps[0].block_number
    assert all(s.gas_used > 0 and s.code_hash.startswith("0x") for s in record.steps)
    assert chain.office_codes() == ["EP", "US", "JP"]
    checks = verify_deployment(chain, record, g)
    assert failed(checks) == set(), checks
    record.save(tmp_path / "deployment.json")
    again = DeploymentRecord.load(tmp_path / "deployment.json")
    assert again is not None and again.to_json() == record.to_json()
    assert Deployment.load(tmp_path / "deployment.json") == record.deployment


def test_another_genesis_does_not_verify(chain: Chain) -> None:
    g = three()
    record = deploy(chain, dev_account(0), g)
    renamed = Genesis.of([dataclasses.replace(g.offices[0], name="Other"), *g.offices[1:]], g.rule)
    assert {"genesis.file", "OfficeRegistry.creation", "genesis.offices"} <= failed(
        verify_deployment(chain, record, renamed)
    )
    stricter = dataclasses.replace(g, rule=GovernanceRule(2, 3, 2))
    assert "genesis.rule" in failed(verify_deployment(chain, record, stricter))
    other_signer = Genesis.of([dataclasses.replace(g.offices[2], signers=(str(dev_account(7).address),)),
                               *g.offices[:2]], g.rule)  # fmt: skip
    assert "genesis.signers" in failed(verify_deployment(chain, None, other_signer))


def test_an_edited_record_does_not_verify(chain: Chain) -> None:
    """A deployment file whose genesis was rewritten to match a forged TOML: the transactions tell."""
    g = three()
    record = deploy(chain, dev_account(0), g)
    forged = Genesis.of([dataclasses.replace(g.offices[1], base_uri="https://evil.example/"), *g.offices[::2]], g.rule)
    edited = dataclasses.replace(record, genesis=forged)
    assert {"OfficeRegistry.creation", "genesis.offices"} <= failed(verify_deployment(chain, edited, forged))


def test_other_code_does_not_verify(chain: Chain) -> None:
    record = deploy(chain, dev_account(0), three())
    swapped = Deployment(record.deployment.chain_id, record.deployment.anchor_registry,
                         record.deployment.office_registry, record.deployment.block_number)  # fmt: skip
    chain_swapped = Chain(chain.w3, swapped)
    assert {"OfficeRegistry.code", "AnchorRegistry.code"} <= failed(verify_deployment(chain_swapped, None, three()))
    nowhere = Deployment(record.deployment.chain_id, "0x" + "12" * 20, record.deployment.anchor_registry, 0)
    assert "OfficeRegistry.code" in failed(verify_deployment(Chain(chain.w3, nowhere), None, three()))
    wrong_set = dataclasses.replace(record, evm_version="paris")
    assert "OfficeRegistry.code" in failed(verify_deployment(chain, wrong_set, three()))
    other_chain = dataclasses.replace(record.deployment, chain_id=1)
    assert "chainId" in failed(verify_deployment(Chain(chain.w3, other_chain), record, three()))


def test_immutables_are_masked_not_ignored(chain: Chain) -> None:
    one, two = deploy(chain, dev_account(0), three()), deploy(chain, dev_account(0), three())
    code1 = bytes(chain.w3.eth.get_code(Web3.to_checksum_address(one.deployment.anchor_registry)))
    code2 = bytes(chain.w3.eth.get_code(Web3.to_checksum_address(two.deployment.anchor_registry)))
    assert code1 != code2  # the office registry's address is an immutable of the AnchorRegistry
    assert matching_set("AnchorRegistry", code1) == matching_set("AnchorRegistry", code2) == "prague"
    refs = artifact_set()["AnchorRegistry"]["immutableReferences"]
    assert refs and mask_immutables(code1, refs) == mask_immutables(code2, refs)
    flipped = bytearray(code1)
    flipped[len(flipped) // 3] ^= 1  # one byte of code outside any immutable
    assert matching_set("AnchorRegistry", bytes(flipped)) is None
    assert matching_set("AnchorRegistry", code1[:-1]) is None
    # The immutable's value is checked too: a registry reading offices from elsewhere does not verify.
    crossed = dataclasses.replace(one.deployment, office_registry=two.deployment.office_registry)
    assert "AnchorRegistry.offices" in failed(verify_deployment(Chain(chain.w3, crossed), None, three()))


def test_genesis_chain_id_is_enforced(chain: Chain) -> None:
    g = dataclasses.replace(three(), chain_id=20260)
    from registry.errors import ConfigError

    with pytest.raises(ConfigError, match="genesis is for chain 20260"):
        deploy(chain, dev_account(0), g)
    with pytest.raises(ConfigError, match="no artifacts for evmVersion"):
        deploy(chain, dev_account(0), three(), evm_version="osaka")
