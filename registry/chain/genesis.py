"""The consortium genesis: offices, their signers and the governance rule, from a TOML file.

A genesis file is what the founding offices agree on before anything is deployed; ``ipreg deploy
--genesis FILE`` puts it on chain and ``ipreg deployment verify --genesis FILE`` lets any office check
that the chain holds exactly it. Parsing is strict: unknown keys, bad ST.3 codes, bad address
checksums, duplicate offices or signers and an impossible governance rule are refused with one
message naming the place. No I/O besides reading the file; no chain access.

Format (``ipreg-genesis-v1``; see ``local-chain/genesis.example.toml``)::

    format = "ipreg-genesis-v1"
    chain_id = 2026                  # optional: deploy and verify refuse any other chain
    evm_version = "paris"            # optional: "prague" (default) or "paris" (older nodes)
    confirmations = 2                # optional: blocks each deployment step waits for

    [governance]                     # approvals needed with n active offices:
    numerator = 1                    #   min(n, max(min_approvals, floor(n * numerator / denominator) + 1))
    denominator = 2                  # here: a strict majority of the active offices,
    min_approvals = 2                #   and never fewer than 2
    proposal_ttl_blocks = 302400     # a proposal expires after this many blocks (7 days of 2 s blocks)

    [[offices]]
    code = "EP"                      # WIPO ST.3
    name = "European Patent Office"
    base_uri = "https://register.epo.org/application?number="
    signers = ["0x…"]                # the office's own key(s), EIP-55 checksummed
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import rfc8785

from registry.core.address import checksum_address
from registry.core.contract import ZERO_ADDRESS, GovernanceRule
from registry.core.st3 import is_st3
from registry.errors import InputError
from registry.node.toolchain import DEFAULT_EVM_VERSION, EVM_VERSIONS

GENESIS_FORMAT: Final = "ipreg-genesis-v1"
#: Signers per genesis office that the current OfficeRegistry constructor accepts.
MAX_GENESIS_SIGNERS: Final = 1
MAX_NAME: Final = 200
MAX_URI: Final = 2000
#: The OfficeRegistry's floor on genesis offices and on ``min_approvals`` (its ``MIN_ACTIVE``).
MIN_OFFICES: Final = 2
#: The OfficeRegistry's ceiling on a proposal's lifetime (its ``MAX_TTL_BLOCKS``).
MAX_TTL_BLOCKS: Final = 1_000_000

_TOP_KEYS: Final = {"format", "chain_id", "evm_version", "confirmations", "governance", "offices"}
_GOVERNANCE_KEYS: Final = {"numerator", "denominator", "min_approvals", "proposal_ttl_blocks"}
_OFFICE_KEYS: Final = {"code", "name", "base_uri", "signers"}


class GenesisError(InputError):
    """A genesis file that cannot be used: unreadable, malformed or inconsistent."""

    code = "invalidGenesis"


@dataclass(frozen=True, slots=True)
class GenesisOffice:
    """A founding office: ST.3 code, name, register base URI and its own signer addresses."""

    code: str
    name: str
    base_uri: str
    signers: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """lowerCamelCase JSON."""
        return {"code": self.code, "name": self.name, "baseUri": self.base_uri, "signers": list(self.signers)}


@dataclass(frozen=True, slots=True)
class Genesis:
    """A validated genesis; build with :meth:`load`, :meth:`parse` or :meth:`dev`."""

    offices: tuple[GenesisOffice, ...]
    rule: GovernanceRule
    chain_id: int | None = None
    evm_version: str = DEFAULT_EVM_VERSION
    confirmations: int | None = None

    # -- construction

    @classmethod
    def load(cls, path: Path) -> Genesis:
        """Read and validate a genesis TOML file."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise GenesisError(f"cannot read genesis file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise GenesisError(f"genesis file {path} is not UTF-8 text") from None
        return cls.parse(text, where=str(path))

    @classmethod
    def parse(cls, text: str, where: str = "genesis") -> Genesis:
        """Validate genesis TOML text; ``where`` names it in errors."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise GenesisError(f"{where}: not valid TOML: {exc}") from None
        return cls.from_mapping(doc, where)

    @classmethod
    def from_mapping(cls, doc: dict[str, Any], where: str = "genesis") -> Genesis:
        """Validate a parsed genesis document."""
        _no_unknown(doc, _TOP_KEYS, where)
        if doc.get("format") != GENESIS_FORMAT:
            raise GenesisError(f"{where}: format must be {GENESIS_FORMAT!r}, got {doc.get('format')!r}")
        chain_id = _opt_int(doc, "chain_id", where, minimum=1)
        confirmations = _opt_int(doc, "confirmations", where, minimum=1)
        evm_version = doc.get("evm_version", DEFAULT_EVM_VERSION)
        if evm_version not in EVM_VERSIONS:
            raise GenesisError(
                f"{where}: evm_version {evm_version!r} is not shipped (choose {' or '.join(map(repr, EVM_VERSIONS))})"
            )
        governance = doc.get("governance")
        if not isinstance(governance, dict):
            raise GenesisError(f"{where}: missing [governance] table (numerator, denominator, min_approvals, …)")
        _no_unknown(governance, _GOVERNANCE_KEYS, f"{where} [governance]")
        values = {}
        for key in sorted(_GOVERNANCE_KEYS):
            value = _opt_int(governance, key, f"{where} [governance]", minimum=0)
            if value is None:
                raise GenesisError(f"{where} [governance]: {key} is missing")
            values[key] = value
        raw_offices = doc.get("offices")
        if not isinstance(raw_offices, list) or not raw_offices:
            raise GenesisError(f"{where}: no [[offices]]: a genesis needs at least one office")
        offices = tuple(_office(o, f"{where} offices[{i}]") for i, o in enumerate(raw_offices))
        rule = GovernanceRule(
            values["numerator"], values["denominator"], values["min_approvals"], values["proposal_ttl_blocks"]
        )
        return cls.of(offices, rule, chain_id, evm_version, confirmations, where)

    @classmethod
    def of(
        cls,
        offices: Sequence[GenesisOffice],
        rule: GovernanceRule,
        chain_id: int | None = None,
        evm_version: str = DEFAULT_EVM_VERSION,
        confirmations: int | None = None,
        where: str = "genesis",
    ) -> Genesis:
        """Check the cross-office rules (unique codes and signers, a rule the contract accepts) and build."""
        seen_codes: set[str] = set()
        seen_signers: dict[str, str] = {}
        for office in offices:
            if office.code in seen_codes:
                raise GenesisError(f"{where}: office {office.code} appears twice")
            seen_codes.add(office.code)
            for signer in office.signers:
                other = seen_signers.get(signer.lower())
                if other is not None:
                    raise GenesisError(f"{where}: signer {signer} is listed for {other} and {office.code}")
                seen_signers[signer.lower()] = office.code
        if len(offices) < MIN_OFFICES:
            raise GenesisError(f"{where}: {len(offices)} office(s); the registry needs at least {MIN_OFFICES}")
        _check_rule(rule, where)
        return cls(tuple(offices), rule, chain_id, evm_version, confirmations)

    @classmethod
    def dev(cls, extra: tuple[str, ...] = ()) -> Genesis:
        """The dev preset: EP, US, JP, EM, WO with anvil's public dev accounts 1-5, the dev rule; ``extra``
        adds offices of :data:`~registry.chain.dev.EVAL_OFFICES` (an evaluation's large offices)."""
        from registry.chain.dev import DEV_OFFICES, DEV_RULE, EVAL_OFFICES, dev_account, eval_signer

        offices = [
            GenesisOffice(code, name, uri, (str(dev_account(i).address),))
            for i, (code, name, uri) in enumerate(DEV_OFFICES, start=1)
        ]
        for code, name, uri in EVAL_OFFICES:
            account = eval_signer(code)
            if code in extra and account is not None:
                offices.append(GenesisOffice(code, name, uri, (str(account.address),)))
        return cls.of(offices, DEV_RULE, where="dev preset")

    # -- views

    def office(self, code: str) -> GenesisOffice | None:
        """The genesis office with ``code``."""
        return next((o for o in self.offices if o.code == code), None)

    def to_json(self) -> dict[str, Any]:
        """The genesis as JSON (what the deployment record keeps and what :meth:`digest` hashes)."""
        return {
            "format": GENESIS_FORMAT,
            "chainId": self.chain_id,
            "evmVersion": self.evm_version,
            "confirmations": self.confirmations,
            "governance": self.governance_json(),
            "offices": [o.to_json() for o in self.offices],
        }

    def governance_json(self) -> dict[str, int]:
        """The rule as JSON (the TOML's keys, lowerCamelCase)."""
        r = self.rule
        return {
            "numerator": r.numerator,
            "denominator": r.denominator,
            "minApprovals": r.min_approvals,
            "proposalTtlBlocks": r.ttl_blocks,
        }

    def on_chain_json(self) -> dict[str, Any]:
        """Only what the contracts hold (offices, signers, rule): equal genesis, equal chain state."""
        return {"governance": self.governance_json(), "offices": [o.to_json() for o in self.offices]}

    def digest(self) -> str:
        """SHA-256 of the RFC 8785 form of :meth:`on_chain_json`, 0x-hex: names the agreed genesis."""
        return "0x" + hashlib.sha256(rfc8785.dumps(self.on_chain_json())).hexdigest()

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Genesis:
        """Inverse of :meth:`to_json` (as kept in a deployment record), validated again."""
        try:
            offices = [
                _office({"code": o["code"], "name": o["name"], "base_uri": o["baseUri"], "signers": o["signers"]}, "")
                for o in body["offices"]
            ]
            g = body["governance"]
            return cls.of(
                offices,
                GovernanceRule(
                    int(g["numerator"]), int(g["denominator"]), int(g["minApprovals"]), int(g["proposalTtlBlocks"])
                ),
                body.get("chainId"),
                body.get("evmVersion") or DEFAULT_EVM_VERSION,
                body.get("confirmations"),
                where="recorded genesis",
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GenesisError(f"recorded genesis is malformed: {exc}") from None


# ---------------------------------------------------------------------------- field checks


def _no_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise GenesisError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def _opt_int(table: dict[str, Any], key: str, where: str, minimum: int) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise GenesisError(f"{where}: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def _check_rule(rule: GovernanceRule, where: str) -> None:
    """The OfficeRegistry's own rule check (``_checkRule``), so a bad rule fails before any transaction."""
    n, d = rule.numerator, rule.denominator
    if d == 0 or n >= d or 2 * n < d:
        raise GenesisError(
            f"{where} [governance]: numerator/denominator {n}/{d} must be at least 1/2 and below 1"
            " (more than that share of the active offices must approve)"
        )
    if rule.min_approvals < MIN_OFFICES:
        raise GenesisError(f"{where} [governance]: min_approvals {rule.min_approvals} must be at least {MIN_OFFICES}")
    if not 1 <= rule.ttl_blocks <= MAX_TTL_BLOCKS:
        raise GenesisError(
            f"{where} [governance]: proposal_ttl_blocks {rule.ttl_blocks} must be between 1 and {MAX_TTL_BLOCKS}"
        )
    if max(n, d, rule.min_approvals) >= 2**16:
        raise GenesisError(f"{where} [governance]: numerator, denominator and min_approvals must fit in 16 bits")


def _text(table: dict[str, Any], key: str, where: str, limit: int) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise GenesisError(f"{where}: {key} must be a non-empty string")
    if len(value) > limit or any(ord(c) < 0x20 for c in value):
        raise GenesisError(f"{where}: {key} is longer than {limit} characters or holds control characters")
    return value


def address(text: Any, where: str) -> str:
    """An EIP-55 address; all-lowercase is accepted, mixed case must carry a valid checksum."""
    if not isinstance(text, str) or not re.fullmatch(r"0[xX][0-9a-fA-F]{40}", text):
        raise GenesisError(f"{where}: {text!r} is not an Ethereum address")
    checksummed = checksum_address(text)
    if text != text.lower() and text != checksummed:
        raise GenesisError(f"{where}: {text} has a wrong EIP-55 checksum (a mistyped address?)")
    if checksummed.lower() == ZERO_ADDRESS:
        raise GenesisError(f"{where}: the zero address cannot sign")
    return checksummed


def _office(raw: Any, where: str) -> GenesisOffice:
    if not isinstance(raw, dict):
        raise GenesisError(f"{where}: must be a table")
    _no_unknown(raw, _OFFICE_KEYS, where)
    code = raw.get("code")
    if not isinstance(code, str) or not is_st3(code):
        raise GenesisError(f"{where}: code {code!r} is not a WIPO ST.3 office code")
    where = f"{where} ({code})"
    name = _text(raw, "name", where, MAX_NAME)
    base_uri = _text(raw, "base_uri", where, MAX_URI)
    if not base_uri.startswith(("https://", "http://")):
        raise GenesisError(f"{where}: base_uri must be an http(s):// URL, got {base_uri!r}")
    signers = raw.get("signers")
    if not isinstance(signers, list) or not signers:
        raise GenesisError(f"{where}: signers must list the office's own address(es)")
    if len(signers) > MAX_GENESIS_SIGNERS:
        raise GenesisError(
            f"{where}: {len(signers)} signers; the OfficeRegistry takes {MAX_GENESIS_SIGNERS} per genesis office"
            " (add more after deployment with `ipreg office add-signer`)"
        )
    return GenesisOffice(code, name, base_uri, tuple(address(s, f"{where} signers") for s in signers))
