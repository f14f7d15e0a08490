"""Verifying without a live node: the chain archive (export, proof check, reader). See ``registry/archive.md``."""
