"""The local anvil process and the solc toolchain."""
