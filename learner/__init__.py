"""vtrax learner."""
