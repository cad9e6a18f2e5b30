"""Names that the driver, the role workers and `vtrax status` must agree on.

They live apart from the driver and the workers so that each can import them
without importing the other (no import cycle).
"""

STATUS_NAMESPACE = "vtrax"
"""The Ray namespace of every vtrax run's named actors."""

LEARNER_PREFIX = "vtrax_learner_"
"""The learner actor of each run is named LEARNER_PREFIX + a run-unique suffix; it also
holds the driver's newest report, which `vtrax status` reads."""

TABLE = "impala"
"""The Reverb table that actors write and the learner samples."""
