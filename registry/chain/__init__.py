"""The chain: the web3 client, the light JSON-RPC reader, revert decoding, deployment, genesis, keys."""
