"""The Connect-style runtime: contracts, worker, task runner and the source-offset store."""
