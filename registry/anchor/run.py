"""One anchoring run for every caller (``ipreg anchor``, the service, the demo): the office's key, checked
against the chain, and an :class:`~registry.anchor.pipeline.Anchorer` configured from the settings.

Usage::

    account = office_signer(settings, chain, "EP")         # ConfigError unless a current signer of EP
    result = anchorer_for(settings, store, chain, account, "EP").run()
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from registry.anchor.pipeline import Anchorer, Progress, Stamp
from registry.chain.client import Chain
from registry.chain.keys import load_signer
from registry.config import Settings
from registry.errors import ConfigError
from registry.files.ingest import WorkerPool
from registry.store.outbox import Store

__all__ = ["anchorer_for", "check_signer", "office_signer"]


def check_signer(chain: Chain, office: str, account: LocalAccount) -> None:
    """ConfigError unless ``account`` is a current signer of ``office`` on chain (one call)."""
    signs_for = chain.office_of(account.address)
    if signs_for != office:
        raise ConfigError(
            f"key {account.address} is not a current signer of {office}"
            + (f" (it signs for {signs_for})" if signs_for else "")
        )


def office_signer(settings: Settings, chain: Chain, office: str) -> LocalAccount:
    """The key that signs for ``office`` (keystore or dev preset), checked to be a current signer of it."""
    assert chain.deployment is not None
    account = load_signer(settings, office, chain.deployment)
    check_signer(chain, office, account)
    return account


def anchorer_for(
    settings: Settings,
    store: Store,
    chain: Chain,
    account: LocalAccount,
    office: str,
    manifest_base: str | None = None,
    progress: Progress | None = None,
    pool: WorkerPool | None = None,
    stamper: Stamp | None = None,
) -> Anchorer:
    """The office's Anchorer: manifests in ``$IPREG_HOME/manifests``, batch size and confirmations from ``settings``;
    ``stamper`` (see :func:`stamper_for`) time-stamps every new root before its batch is created."""
    return Anchorer(
        store,
        chain,
        account,
        office,
        settings.home / "manifests",
        manifest_base or None,
        settings.batch_size,
        settings.confirmations,
        progress,
        pool=pool,
        stamper=stamper,
    )
