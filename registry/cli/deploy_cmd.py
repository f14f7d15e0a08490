"""``ipreg deploy``: deploy the contracts (dev preset: genesis EP, US, JP, EM, WO)."""

from __future__ import annotations

import typer

from .common import HomeOption, JsonFlag, RpcOption, emit_json, open_chain, settings


def deploy(rpc_url: RpcOption = None, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """Deploy OfficeRegistry and AnchorRegistry with the dev preset and record the deployment."""
    s = settings(home, rpc_url=rpc_url)
    chain = open_chain(s, need_deployment=False)
    deployment = chain.deploy_dev()
    deployment.save(s.deployment_file)
    offices = chain.office_codes()
    body = {
        "chainId": deployment.chain_id,
        "officeRegistry": deployment.office_registry,
        "anchorRegistry": deployment.anchor_registry,
        "blockNumber": deployment.block_number,
        "offices": offices,
        "deploymentFile": str(s.deployment_file),
    }
    if as_json:
        emit_json(body)
    else:
        typer.echo(
            f"deployed on chain {deployment.chain_id}: AnchorRegistry {deployment.anchor_registry},"
            f" OfficeRegistry {deployment.office_registry}; offices {', '.join(offices)}"
        )
        typer.echo(f"deployment recorded in {s.deployment_file}")
