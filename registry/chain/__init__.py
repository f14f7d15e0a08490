"""The chain: the web3 client, the light JSON-RPC reader, reverts, artifacts, deployment, genesis, keys, dev preset.

``client`` (Chain, connect, TxResult), ``light`` (no web3), ``light_views`` (the OfficeRegistry's views over
JSON-RPC, no web3) with ``abi`` (its small ABI codec), ``views`` (those views decoded once for both readers),
``reverts`` (typed contract errors and their decoding), ``artifacts`` (the one loader of the shipped builds),
``payloads`` (governance payloads, signer and proposal views), ``deployments`` (the deployment file),
``deploy`` (the one deployer) and ``deploy_checks``, ``genesis``, ``history`` (replaced deployments),
``lineage``, ``keys``, ``besu`` and ``dev`` (the public dev preset and its funds). Never imports the store.
"""
