"""The dev preset: anvil's public accounts, the five genesis offices, the dev rule, and their funds.

For local development chains only (anvil, hardhat, ganache, the in-process EVM): the keys derive
from a public mnemonic. Holds the preset's data, the funding of the in-process EVM's dev accounts
and of new keys on a local anvil node; nothing here is used on a consortium chain.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.signers.local import LocalAccount

from registry.config import EMBEDDED, Settings
from registry.core.contract import GovernanceRule
from registry.node.anvil import DEV_MNEMONIC

if TYPE_CHECKING:  # the client imports this module (embedded funding), not the other way round
    from web3 import Web3

    from registry.chain.client import Chain
    from registry.chain.deployments import Deployment

__all__ = [
    "DEV_FUNDING_WEI",
    "DEV_MNEMONIC",
    "DEV_OFFICES",
    "DEV_RULE",
    "EVAL_OFFICES",
    "LOCAL_CHAIN_IDS",
    "dev_account",
    "dev_signer",
    "eval_signer",
    "fund_embedded",
    "fund_from_dev_account",
    "is_local_dev_chain",
]

DEV_OFFICES: tuple[tuple[str, str, str], ...] = (
    ("EP", "European Patent Office", "https://register.epo.org/application?number="),
    ("US", "United States Patent and Trademark Office", "https://ppubs.uspto.gov/pubwebapp/?q="),
    ("JP", "Japan Patent Office", "https://www.j-platpat.inpit.go.jp/?q="),
    (
        "EM",
        "European Union Intellectual Property Office",
        "https://euipo.europa.eu/eSearch/#details/trademarks/",
    ),
    ("WO", "World Intellectual Property Organization", "https://patentscope.wipo.int/search/en/"),
)
#: Offices an evaluation scenario may add to the dev genesis (large-office scenarios), each with a dev account
#: from index 40 on (beyond the ones the preset, the demo and the evaluation's spare keys use). ``ipreg demo`` and
#: :func:`registry.chain.deploy.deploy_dev` without ``extra`` never include them.
EVAL_OFFICES: tuple[tuple[str, str, str], ...] = (
    ("CN", "China National Intellectual Property Administration", "https://pss-system.cponline.cnipa.gov.cn/?q="),
)
_EVAL_FIRST_INDEX = 40
#: The dev preset's rule: a strict majority of the active offices, at least 2, proposals live ~7 days.
DEV_RULE = GovernanceRule()
#: Chain ids of local development nodes (anvil/hardhat 31337, ganache 1337): the dev preset's home.
LOCAL_CHAIN_IDS: Final = frozenset({31337, 1337})
#: What a new key on a local dev chain is funded with (wei): enough gas for thousands of batches.
DEV_FUNDING_WEI = 10 * 10**18
#: What each dev account holds on a fresh in-process EVM (wei).
_EMBEDDED_FUNDS = 10**21


@cache
def dev_account(index: int) -> LocalAccount:
    """Anvil dev account ``index`` (0 deploys; 1.. are the dev offices' signers)."""
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account


def dev_signer(office: str) -> LocalAccount | None:
    """The dev-preset signer of a genesis office, or None if the office is not in the preset."""
    for i, (code, _, _) in enumerate(DEV_OFFICES, start=1):
        if code == office:
            return dev_account(i)
    return None


def eval_signer(office: str) -> LocalAccount | None:
    """The dev key of a genesis office of the preset or of :data:`EVAL_OFFICES` (evaluation only), or None."""
    account = dev_signer(office)
    if account is not None:
        return account
    for i, (code, _, _) in enumerate(EVAL_OFFICES, start=_EVAL_FIRST_INDEX):
        if code == office:
            return dev_account(i)
    return None


def fund_embedded(w3: Web3) -> None:
    """Fund the dev accounts (deployer, the offices' signers and three more) on a fresh in-process EVM."""
    from web3.types import Wei

    funder = w3.eth.accounts[0]
    for i in range(len(DEV_OFFICES) + 3):
        w3.eth.send_transaction({"from": funder, "to": dev_account(i).address, "value": Wei(_EMBEDDED_FUNDS)})


def is_local_dev_chain(settings: Settings, deployment: Deployment) -> bool:
    """Whether the deployment is the dev preset on a node of this machine (anvil), where dev funds exist."""
    host = urlsplit(settings.rpc_url).hostname or ""
    return deployment.preset == "dev" and settings.rpc_url != EMBEDDED and host in ("127.0.0.1", "localhost", "::1")


def fund_from_dev_account(chain: Chain, address: str, wei: int = DEV_FUNDING_WEI) -> str:
    """Send ``wei`` to ``address`` from anvil dev account 0 (local dev chains only); the transaction hash."""
    funder = dev_account(0)
    w3 = chain.w3
    latest = chain.rpc(lambda: w3.eth.get_block("latest"))
    tip = 10**9
    base = int(latest.get("baseFeePerGas", 0) or 0)
    tx = {
        "to": w3.to_checksum_address(address),
        "value": wei,
        "gas": 21_000,
        "maxPriorityFeePerGas": tip,
        "maxFeePerGas": 2 * base + tip,
        "nonce": chain.rpc(lambda: w3.eth.get_transaction_count(funder.address, "pending")),
        "chainId": chain.rpc(lambda: w3.eth.chain_id),
    }
    tx_hash = chain.send(funder, tx)
    chain.wait(tx_hash)
    return tx_hash
