"""``ipreg deploy`` (dev preset or a consortium genesis) and ``ipreg deployment show / verify / history``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from registry.cli.common import HomeOption, JsonFlag, RpcOption, emit_json, settings
from registry.config import EMBEDDED
from registry.errors import ConfigError
from registry.node.toolchain import EVM_VERSIONS

if TYPE_CHECKING:  # web3 (via chain and deploy) is imported when a command runs, not at start-up
    from registry.chain.deployments import Deployment, DeploymentRecord, DeployStep

GenesisOption = Annotated[
    Path | None,
    typer.Option("--genesis", help="Consortium genesis TOML (offices, signers, governance); default: dev preset."),
]
EvmOption = Annotated[
    str | None,
    typer.Option("--evm-version", help=f"Artifact set: {' or '.join(EVM_VERSIONS)} (default: the genesis', prague)."),
]
ConfirmationsOption = Annotated[
    int | None, typer.Option("--confirmations", help="Blocks each step waits for (default: genesis, then settings).")
]
KeystoreOption = Annotated[
    Path | None, typer.Option("--keystore", help="Deployer keystore (Web3 Secret Storage; default $IPREG_KEYSTORE).")
]
ReplaceFlag = Annotated[
    bool, typer.Option("--replace", help="Replace a deployment that holds records (it is kept under deployments/).")
]
PredecessorOption = Annotated[
    str | None,
    typer.Option("--predecessor", help="AnchorRegistry this deployment succeeds (migration); it must be frozen."),
]
DeploymentOption = Annotated[
    Path | None,
    typer.Option("--deployment", help="Deployment file to check (default $IPREG_HOME/deployment.json)."),
]

app = typer.Typer(help="The recorded deployment: show it, verify it against the chain, list replaced ones.")


def _step_line(step: DeployStep) -> str:
    return (
        f"  {step.contract:<15} {step.address}  block {step.block_number}  gas {step.gas_used:,}"
        f"  code hash {step.code_hash}"
    )


def deploy(
    genesis_file: GenesisOption = None,
    evm_version: EvmOption = None,
    confirmations: ConfirmationsOption = None,
    keystore: KeystoreOption = None,
    replace: ReplaceFlag = False,
    predecessor: PredecessorOption = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Deploy OfficeRegistry and AnchorRegistry (dev preset on a local chain, or --genesis FILE) and record it."""
    from registry.chain.client import Chain, connect
    from registry.chain.deploy import deploy as deploy_registry
    from registry.chain.deployments import Deployment
    from registry.chain.dev import LOCAL_CHAIN_IDS, dev_account
    from registry.chain.genesis import Genesis
    from registry.chain.history import archive, holdings
    from registry.chain.keys import load_keystore
    from registry.store.deployments import archive_store, record_counts

    s = settings(home, rpc_url=rpc_url, keystore=keystore)
    genesis = Genesis.load(genesis_file) if genesis_file is not None else Genesis.dev()
    if evm_version is not None and evm_version not in EVM_VERSIONS:
        raise ConfigError(f"--evm-version {evm_version!r} is not shipped (choose {' or '.join(EVM_VERSIONS)})")
    if genesis_file is not None and s.keystore is None:
        raise ConfigError("a genesis deployment is signed by an encrypted keystore: --keystore FILE or IPREG_KEYSTORE")
    chain = Chain(connect(s.rpc_url), retries=s.rpc_retries)
    chain_id = int(chain.rpc(lambda: chain.w3.eth.chain_id))
    if genesis_file is None and s.rpc_url != EMBEDDED and chain_id not in LOCAL_CHAIN_IDS:
        raise ConfigError(
            f"chain {chain_id} is not a local dev chain: the dev preset's keys are public; give --genesis FILE"
        )
    current = Deployment.load(s.deployment_file) if s.deployment_file.exists() else None
    if current is not None:
        held = holdings(record_counts(s.store_file), current, chain)
        if not held.empty and not replace:
            raise ConfigError(
                f"{s.deployment_file} names registry {current.anchor_registry} on chain {current.chain_id},"
                f" which holds {held.describe()}; refusing to replace it (--replace keeps it under"
                f" {s.home / 'deployments'})"
            )
    deployer = dev_account(0) if genesis_file is None else load_keystore(s, s.keystore)  # type: ignore[arg-type]
    steps = 0 if genesis.confirmations is None else genesis.confirmations
    wait = confirmations or steps or s.confirmations

    def progress(step: DeployStep) -> None:
        if not as_json:
            typer.echo(_step_line(step), err=True)

    record = deploy_registry(
        chain,
        deployer,
        genesis,
        evm_version=evm_version,
        confirmations=wait,
        preset="dev" if genesis_file is None else "genesis",
        predecessor=predecessor,
        on_step=progress,
    )
    archived = archive(s, archive_store) if current is not None else None
    record.save(s.deployment_file)
    body: dict[str, Any] = {**record.summary(), "deploymentFile": str(s.deployment_file)}
    body["replaced"] = str(archived) if archived else None
    if as_json:
        emit_json(body)
        return
    dep = record.deployment
    typer.echo(
        f"deployed on chain {dep.chain_id} ({record.evm_version} build, {wait} confirmation(s)):"
        f" AnchorRegistry {dep.anchor_registry}, OfficeRegistry {dep.office_registry}, block {dep.block_number};"
        f" offices {', '.join(body['offices'])}; approvals needed now {body['requiredApprovals']}"
    )
    for step in record.steps:
        typer.echo(_step_line(step))
    typer.echo(f"genesis {body['genesisDigest']}; total gas {body['gasUsed']:,}")
    if archived:
        typer.echo(f"previous deployment {current.anchor_registry if current else ''} kept in {archived}")
    typer.echo(f"deployment recorded in {s.deployment_file}")


def _load(s_home: Path | None, deployment_file: Path | None) -> tuple[Path, Deployment, DeploymentRecord | None]:
    from registry.chain.deployments import Deployment, DeploymentRecord

    s = settings(s_home)
    path = deployment_file or s.deployment_file
    return path, Deployment.load(path), DeploymentRecord.load(path)


@app.command("show")
def show(deployment_file: DeploymentOption = None, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """The recorded deployment: chain, addresses, block, EVM version, genesis, gas per step."""
    path, dep, record = _load(home, deployment_file)
    body = record.summary() if record else {"chainId": dep.chain_id, "officeRegistry": dep.office_registry,
                                            "anchorRegistry": dep.anchor_registry, "blockNumber": dep.block_number,
                                            "preset": dep.preset}  # fmt: skip
    body["deploymentFile"] = str(path)
    if as_json:
        emit_json(body)
        return
    typer.echo(
        f"chain {dep.chain_id}: AnchorRegistry {dep.anchor_registry}, OfficeRegistry {dep.office_registry},"
        f" block {dep.block_number} ({dep.preset})"
    )
    if record is not None:
        for step in record.steps:
            typer.echo(_step_line(step))


@app.command("verify")
def verify(
    genesis_file: Annotated[
        Path | None, typer.Option("--genesis", help="The genesis TOML to compare the chain with.")
    ] = None,
    deployment_file: DeploymentOption = None,
    rpc_url: RpcOption = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the chain holds the shipped code with this genesis; exit 0 only if every check passes (else 2)."""
    from registry.chain.client import Chain, connect
    from registry.chain.deploy_checks import verify_deployment
    from registry.chain.deployments import Deployment, DeploymentRecord
    from registry.chain.genesis import Genesis

    s = settings(home, rpc_url=rpc_url)
    genesis = Genesis.load(genesis_file) if genesis_file is not None else None
    path = deployment_file or s.deployment_file
    dep, record = Deployment.load(path), DeploymentRecord.load(path)
    chain = Chain(connect(s.rpc_url), dep, retries=s.rpc_retries)
    checks = verify_deployment(chain, record, genesis)
    ok = all(c.ok for c in checks)
    if as_json:
        emit_json({"verified": ok, "deploymentFile": str(path), "checks": [c.to_json() for c in checks]})
    else:
        for c in checks:
            typer.echo(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
        typer.echo(f"deployment {dep.anchor_registry} on chain {dep.chain_id}: {'VERIFIED' if ok else 'NOT VERIFIED'}")
    if not ok:
        raise typer.Exit(2)


@app.command("history")
def list_history(home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """Deployments this data directory used before (replaced by `ipreg deploy --replace`), oldest first."""
    from registry.chain.history import history

    s = settings(home)
    rows = [
        {
            "folder": str(folder),
            "chainId": body.get("chain_id"),
            "anchorRegistry": body.get("anchor_registry"),
            "officeRegistry": body.get("office_registry"),
            "blockNumber": body.get("block_number"),
        }
        for folder, body in history(s)
    ]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("no replaced deployments")
    for r in rows:
        typer.echo(f"{r['folder']}: chain {r['chainId']}, AnchorRegistry {r['anchorRegistry']}")
