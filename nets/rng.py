"""Random keys inside transformed functions: `PRNGSequence`, `next_rng_key`.

`init(rng, ...)` and `apply(params, rng, ...)` wrap the key they are given in a
`PRNGSequence`; `next_rng_key()` hands out a fresh key split from it, so modules
(initializers, dropout) get randomness without threading keys by hand. With
`rng=None` there is no sequence, and `next_rng_key()` raises `MissingRNGError`.
"""

from __future__ import annotations

import collections
from typing import Any, Optional, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

from vtrax.nets import base, errors

PRNGKey = Any


def as_prng_key(key_or_seed: Any, *, what: str = "rng") -> PRNGKey:
    """Returns a JAX PRNG key from a key (raw uint32[2] or typed) or an integer seed."""
    if isinstance(key_or_seed, (int, np.integer)) and not isinstance(key_or_seed, bool):
        return jax.random.PRNGKey(int(key_or_seed))
    shape = getattr(key_or_seed, "shape", None)
    dtype = getattr(key_or_seed, "dtype", None)
    if shape is not None and dtype is not None:
        if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) and tuple(shape) == ():
            return key_or_seed
        if tuple(shape) == () and jnp.issubdtype(dtype, jnp.integer):
            return jax.random.PRNGKey(key_or_seed)
        if tuple(shape) == (2,) and dtype == jnp.uint32:
            return key_or_seed
        described = f"an array of dtype {jnp.dtype(dtype).name} and shape {tuple(shape)}"
    else:
        described = f"a {type(key_or_seed).__name__}"
    raise errors.InvalidRNGKeyError(
        f"{what} must be a jax.random.PRNGKey (uint32[2]), a typed key, an int seed or None, but got "
        f"{described}. If the function needs no randomness at apply time, wrap it with "
        "nets.without_apply_rng(...) and call apply(params, *inputs); otherwise pass jax.random.PRNGKey(seed).")


class PRNGSequence:
    """Iterator of JAX random keys split from one key or seed.

    >>> seq = PRNGSequence(42)
    >>> key_1, key_2 = next(seq), next(seq)   # two different keys
    """

    __slots__ = ("_key", "_subkeys")

    def __init__(self, key_or_seed: Union[PRNGKey, int]):
        self._key = as_prng_key(key_or_seed, what="PRNGSequence's key_or_seed")
        self._subkeys: collections.deque = collections.deque()

    def reserve(self, num: int) -> None:
        """Splits `num` more keys now (one split instead of `num`)."""
        if num > 0:
            keys = jax.random.split(self._key, num + 1)
            self._key = keys[0]
            self._subkeys.extend(keys[i] for i in range(1, num + 1))

    def __next__(self) -> PRNGKey:
        if not self._subkeys:
            self.reserve(1)
        return self._subkeys.popleft()

    next = __next__

    def __iter__(self) -> "PRNGSequence":
        return self

    def take(self, num: int) -> Tuple[PRNGKey, ...]:
        """The next `num` keys."""
        self.reserve(max(num - len(self._subkeys), 0))
        return tuple(next(self) for _ in range(num))

    @property
    def key(self) -> PRNGKey:
        """The internal key from which future keys are split (not itself handed out)."""
        return self._key


def next_rng_key() -> PRNGKey:
    """A fresh PRNG key from the key given to the running `init` or `apply`.

    Raises:
      ModuleOutsideTransformError: outside `transform`.
      MissingRNGError: when `init`/`apply` was called with `rng=None`.
    """
    frame = base.current_frame("nets.next_rng_key()")
    if frame.rng is None:
        raise missing_rng_error(frame)
    return next(frame.rng)


def maybe_next_rng_key() -> Optional[PRNGKey]:
    """`next_rng_key()` if a key was given to `init`/`apply`, else None."""
    frame = base.current_frame("nets.maybe_next_rng_key()")
    return None if frame.rng is None else next(frame.rng)


def reserve_rng_keys(num: int) -> None:
    """Pre-splits `num` keys for later `next_rng_key()` calls (fewer split ops)."""
    frame = base.current_frame("nets.reserve_rng_keys()")
    if frame.rng is None:
        raise missing_rng_error(frame)
    frame.rng.reserve(num)


def missing_rng_error(frame: base.Frame) -> errors.MissingRNGError:
    where = frame.bundle_name()
    location = "at the top level of the transformed function" if where == base.TOP_LEVEL_BUNDLE else (
        f"in module '{where}'")
    if frame.entry_point == "init":
        fix = "call init(jax.random.PRNGKey(seed), ...) instead of init(None, ...)"
    else:
        fix = ("call apply(params, jax.random.PRNGKey(seed), ...) instead of passing rng=None, and do not wrap "
               "the transformed function in nets.without_apply_rng")
    return errors.MissingRNGError(
        f"A random key was requested {location} during {frame.entry_point}, but {frame.entry_point} was given "
        f"rng=None. Fix: {fix}.")
