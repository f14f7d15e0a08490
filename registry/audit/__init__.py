"""The audit: a whole gazette or office feed checked against the chain, with a report."""
