"""Sending a built batch to the chain exactly once: recorded before broadcast, reconciled on re-run.

A batch's transaction (hash, nonce) is written to the outbox before it is broadcast. A batch left
``sent`` by an earlier run is finished from its receipt, or from the root found on chain, or is
rebuilt with a fresh nonce; a stuck transaction is replaced with higher fees. The contract refuses
a root twice, so nothing is ever anchored twice. A recently anchored batch that a reorganisation deeper
than the confirmations took off the chain is built again and anchored again (:meth:`BatchSender.recheck`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import Web3

from registry.anchor.checkpoints import checkpoint
from registry.chain.client import Chain, TxResult
from registry.chain.reverts import RegistryFrozen
from registry.errors import ChainError, ContractRevertError, TransactionTimeout
from registry.store.outbox import BatchStatus, Store, StoredBatch

#: Anchored batches this many blocks below the head or less are read again from the chain at the start of
#: every run: a reorganisation deeper than the confirmations may have taken them off (older ones count as final).
RECHECK_BLOCKS: Final = 4096


@dataclass(slots=True)
class BatchSender:
    """Anchors one office's built or sent batches with one signing key."""

    store: Store
    chain: Chain
    account: LocalAccount
    office: str
    confirmations: int = 1
    tx_timeout: float = 120.0
    max_fee_bumps: int = 3

    def finish(self, batch: StoredBatch) -> StoredBatch:
        """Anchor a built or sent batch (or find it anchored); return it as stored, anchored."""
        if batch.status == BatchStatus.SENT and batch.tx_hash:
            result = self._reconcile_sent(batch)
            if result is not None:
                return self._record(batch, result)
        on_chain = self._found_on_chain(batch)
        if on_chain is not None:
            return self._record(batch, on_chain)
        try:
            tx = self.chain.build(
                self.account,
                self.chain.anchors.functions.anchorBatch(batch.root, batch.leaf_count, batch.manifest_uri),
            )
        except ContractRevertError as exc:
            self.store.mark_error(batch.id, exc.diagnostics())
            hint = ""
            if isinstance(exc, RegistryFrozen):
                hint = (
                    " This registry takes no more batches: point this home at its successor (the successor's"
                    " deployment.json) and re-run; the pending records are anchored there."
                )
            raise ContractRevertError(
                f"batch {batch.root} ({batch.leaf_count} records) not anchored, records stay pending: "
                f"{exc.diagnostics()}{hint}"
            ) from None
        return self._record(batch, self._send_until_mined(batch, tx))

    def _send_until_mined(self, batch: StoredBatch, tx: dict[str, Any]) -> TxResult:
        """Broadcast (recording the transaction first); replace it with higher fees while it is stuck."""
        for bump in range(self.max_fee_bumps + 1):
            signed = self.account.sign_transaction(tx)
            tx_hash = "0x" + bytes(signed.hash).hex()
            self.store.mark_sent(batch.id, self.account.address, int(tx["nonce"]), tx_hash)
            checkpoint("before-broadcast")
            try:
                self.chain.send(self.account, tx)
            except ChainError:
                # A replacement refused ("nonce too low"): the version it replaces was mined meanwhile.
                on_chain = self._found_on_chain(batch) if bump else None
                if on_chain is None:
                    raise
                return on_chain
            checkpoint("after-broadcast")
            try:
                return self.chain.wait(tx_hash, timeout=self.tx_timeout, confirmations=self.confirmations)
            except TransactionTimeout:
                on_chain = self._found_on_chain(batch)  # an earlier, cheaper version may have been mined
                if on_chain is not None:
                    return on_chain
                if bump == self.max_fee_bumps:
                    raise TransactionTimeout(
                        f"batch {batch.root} not mined after {bump} fee bump(s); it stays pending, re-run to resume"
                    ) from None
                # Same nonce, fees up by 25% (nodes want >= 10%): the replacement wins or the old one lands.
                tx = {
                    **tx,
                    "maxFeePerGas": tx["maxFeePerGas"] * 5 // 4 + 1,
                    "maxPriorityFeePerGas": tx["maxPriorityFeePerGas"] * 5 // 4 + 1,
                }
            except ContractRevertError:
                on_chain = self._found_on_chain(batch)
                if on_chain is None:
                    self.store.reset_to_built(batch.id)
                    raise
                return on_chain
        raise AssertionError("unreachable")

    def recheck(self, batch: StoredBatch) -> bool:
        """Read an anchored batch again from the chain; False if a reorganisation took it off (built again).

        Its transaction still on the chain (in its block, or re-mined in another: recorded there) keeps it
        anchored, whichever registry it went to (an outbox moved to a successor registry stays exactly
        once). Gone, and its root not anchored by this office in this registry by any other transaction,
        it is built again, so the run anchors it again: its records were accepted and must be on the chain.
        """
        try:
            mined = self.chain.receipt(batch.tx_hash) if batch.tx_hash else None
        except ContractRevertError:
            mined = None
        if mined is not None:
            if mined.block_number != batch.block_number:
                self._record(batch, mined)
            return True
        found = self._found_on_chain(batch)
        if found is None:
            self.store.unanchor(batch.id)
            return False
        self._record(batch, found)
        return True

    def _reconcile_sent(self, batch: StoredBatch) -> TxResult | None:
        """A batch whose transaction was recorded: mined, or to be rebuilt (never sent twice)."""
        assert batch.tx_hash is not None
        try:
            mined = self.chain.receipt(batch.tx_hash)
        except ContractRevertError:
            mined = None
        if mined is not None:
            return mined
        # Not mined. If the node still holds it, wait for it; otherwise rebuild with a fresh nonce.
        confirmed_nonce = self.chain.rpc(lambda: self.chain.w3.eth.get_transaction_count(self.account.address))
        if batch.nonce is not None and confirmed_nonce <= batch.nonce:
            tx = self.chain.rpc(lambda: _get_tx(self.chain, batch.tx_hash or ""))
            if tx is not None:
                try:
                    return self.chain.wait(batch.tx_hash, timeout=60, confirmations=self.confirmations)
                except ChainError:
                    pass
        self.store.reset_to_built(batch.id)
        return None

    def _found_on_chain(self, batch: StoredBatch) -> TxResult | None:
        """If the root is already anchored (by this office), the transaction that did it."""
        info = self.chain.batch_of(self.office, batch.root)
        if info is None:
            return None
        if info.office != self.office:
            raise ChainError(f"root {batch.root} is anchored by office {info.office}, not {self.office}")
        logs = self.chain.rpc(
            lambda: self.chain.anchors.events.BatchAnchored().get_logs(
                from_block=info.block_number,
                to_block=info.block_number,
                argument_filters={
                    "root": Web3.to_bytes(hexstr=HexStr(batch.root)),
                    "office": self.office.encode("ascii"),
                },
            )
        )
        tx_hash = "0x" + bytes(logs[0]["transactionHash"]).hex() if logs else ""
        return TxResult(tx_hash, info.block_number, info.timestamp, 0)

    def _record(self, batch: StoredBatch, result: TxResult) -> StoredBatch:
        self.store.mark_anchored(
            batch.id,
            result.transaction_hash,
            result.block_number,
            result.timestamp,
            result.gas_used or None,
            None,
        )
        return self.store.batch(batch.id)


def _get_tx(chain: Chain, tx_hash: str) -> Any:
    from web3.exceptions import TransactionNotFound

    try:
        return chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return None
