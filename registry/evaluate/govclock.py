"""Scaled days on the run's chain: a governance story of weeks played in seconds.

The contracts count a proposal's life in blocks (``ttlBlocks``), so the clock moves both: to reach a
day it mines ``blocks_per_day`` blocks per modelled day with block timestamps a day apart in total
(anvil: ``anvil_mine`` with a timestamp interval; the embedded chain: eth-tester's ``mine_blocks`` and
``time_travel``). A day is read back from the chain (the latest block's timestamp), so every figure on
the time axis is the chain's own time. Transactions in between add blocks of one second each.
"""

from __future__ import annotations

from registry.chain.client import Chain
from registry.evaluate.context import Run

DAY = 86_400


class Clock:
    """Modelled days since the clock was made, on ``chain`` (the run's node)."""

    def __init__(self, run: Run, chain: Chain, blocks_per_day: int) -> None:
        self.run = run
        self.chain = chain
        self.blocks_per_day = max(1, blocks_per_day)
        self.start: int = self._latest()["timestamp"]
        self._stamps: dict[int, int] = {}

    def _latest(self) -> dict[str, int]:
        block = self.chain.rpc(lambda: self.chain.w3.eth.get_block("latest"))
        return {"number": int(block["number"]), "timestamp": int(block["timestamp"])}

    @property
    def block(self) -> int:
        """The latest block number."""
        return int(self._latest()["number"])

    def day(self) -> float:
        """Days since the start, by the latest block's timestamp."""
        return round((self._latest()["timestamp"] - self.start) / DAY, 3)

    def day_of(self, block: int) -> float:
        """Days since the start at ``block`` (a mined block)."""
        if block not in self._stamps:
            b = self.chain.rpc(lambda: self.chain.w3.eth.get_block(block))
            self._stamps[block] = int(b["timestamp"])
        return round((self._stamps[block] - self.start) / DAY, 3)

    def advance_to(self, day: float) -> None:
        """Mine up to ``day`` (about ``blocks_per_day`` blocks per day); nothing if it is already later."""
        latest = self._latest()
        target = self.start + int(day * DAY)
        gap = target - latest["timestamp"]
        if gap <= 0:
            return
        blocks = max(1, round(gap / DAY * self.blocks_per_day))
        if self.run.kind == "embedded":
            tester = self.chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
            if blocks > 1:
                tester.mine_blocks(blocks - 1)
            tester.time_travel(max(target, self._latest()["timestamp"] + 1))  # mines the last block at target
        else:
            interval = max(1, gap // blocks)
            self.run.rpc("anvil_mine", [hex(blocks), hex(interval)])
