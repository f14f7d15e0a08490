"""The indexer: contract events into the read model, manifests, the SSRF-safe fetcher. Sends no transactions."""
