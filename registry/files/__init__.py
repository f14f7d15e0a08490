"""Files: walking folders, preparing records on worker pools, archives, the one atomic writer."""
