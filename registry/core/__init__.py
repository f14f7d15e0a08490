"""Pure bytes: canonicalization, ST.3 and ST.96 tables, Merkle trees, record ids, leaf values and proof formats.

Nothing here does I/O, opens a database, talks to a chain or starts a thread or process.
"""
