"""Exception types for misuse of the `nets` programming model.

Every error raised by `nets` for library misuse has its own type so callers can
catch it precisely; all of them subclass `ValueError` (or `TypeError`) so code
written against Haiku's exceptions keeps working.
"""

from __future__ import annotations


class ModuleOutsideTransformError(ValueError):
    """A module, parameter, state or RNG call happened outside `nets.transform`."""


class MissingRNGError(ValueError):
    """`next_rng_key()` was called but `init`/`apply` was given `rng=None`."""


class InvalidRNGKeyError(TypeError):
    """Something that is neither a PRNG key nor an integer seed was passed as `rng`."""


class ParameterShapeError(ValueError):
    """A parameter or state entry was requested with a shape other than the stored one."""


class MissingParameterError(ValueError):
    """`apply` asked for a parameter that is not in the params dict (not created by `init`)."""


class MissingStateError(ValueError):
    """`apply` asked for a state entry that is not in the state dict (not created by `init`)."""


class UnsupportedStateError(ValueError):
    """`get_state`/`set_state` was used inside `transform` (it needs `transform_with_state`)."""


class ModuleNameError(ValueError):
    """A module name is not a valid identifier, is not unique, or was assigned too late."""
