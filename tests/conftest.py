"""Test-wide JAX settings: strict rank promotion and four fake CPU devices.

XLA_FLAGS must be set before jax is first imported, which is why it happens
here (conftest is imported before any test module) and not in library code.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
