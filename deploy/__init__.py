"""vtrax deploy."""
