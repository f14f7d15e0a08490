"""Verdicts: one verification for every caller. Writes nothing."""
