// Hardhat 3 (EDR) as one more independent EVM for the portability tests: `hardhat node` only.
// Started by tests/evm_clients.py with local-chain/node_modules/node (Node 22; Hardhat 3 needs it).
// Accounts: Hardhat's default mnemonic (the same "test … junk" as anvil's dev accounts).
export default {
  networks: {
    default: { type: "edr-simulated", chainType: "l1", hardfork: "prague", chainId: 31337 },
  },
};
