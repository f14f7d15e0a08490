"""Anchoring: staging files, the exactly-once outbox pipeline, proof bundle writing."""
