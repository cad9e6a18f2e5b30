"""vtrax actors."""
