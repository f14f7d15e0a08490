"""The keys an office holds on this machine: addresses from its keystores (never unlocked) and the dev preset.

A Web3 Secret Storage file carries its address in clear, so the monitor learns which keys are the office's
own without a password and without touching a private key.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_utils.address import is_address, to_checksum_address

from registry.chain.deployments import Deployment
from registry.config import Settings


def keystore_address(path: Path) -> str | None:
    """The (checksummed) address a keystore file names, or None if it names none."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    address = body.get("address") if isinstance(body, dict) else None
    if not isinstance(address, str):
        return None
    address = address if address.startswith("0x") else "0x" + address
    return str(to_checksum_address(address)) if is_address(address) else None


def held_keys(settings: Settings, office: str, deployment: Deployment | None) -> frozenset[str]:
    """Addresses of ``office``'s keys here: ``keys/<OFFICE>.json``, ``keys/<OFFICE>-*.json``, ``--keystore``,
    and the dev preset's key of a genesis office on a dev deployment."""
    paths = [settings.keys_dir / f"{office}.json", *sorted(settings.keys_dir.glob(f"{office}-*.json"))]
    if settings.keystore is not None:
        paths.append(settings.keystore)
    found = {a for p in paths if p.is_file() and (a := keystore_address(p)) is not None}
    if deployment is not None and deployment.preset == "dev":
        from registry.chain.dev import dev_signer

        account = dev_signer(office)
        if account is not None:
            found.add(str(account.address))
    return frozenset(found)
