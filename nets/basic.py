"""Small parameter-free building blocks: `Sequential`, `Flatten`, `BatchApply`, `one_hot`, `dropout`."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import jax
import jax.numpy as jnp

from vtrax.nets.module import Module


class Sequential(Module):
    """Calls its layers in order: `layers[-1](... layers[1](layers[0](x, *args, **kwargs)))`.

    Extra arguments go to the first layer only. Layers are usually created by
    the caller, so their parameters are named in the caller's scope.
    """

    def __init__(self, layers: Iterable[Callable[..., Any]], name: Optional[str] = None):
        super().__init__(name=name)
        self.layers = tuple(layers)

    def __call__(self, inputs: Any, *args, **kwargs) -> Any:
        out = inputs
        for index, layer in enumerate(self.layers):
            out = layer(out, *args, **kwargs) if index == 0 else layer(out)
        return out


class Flatten(Module):
    """Keeps the first `preserve_dims` axes and flattens the rest: [B, H, W, C] -> [B, H*W*C]."""

    def __init__(self, preserve_dims: int = 1, name: Optional[str] = None):
        super().__init__(name=name)
        self.preserve_dims = preserve_dims

    def __call__(self, inputs: jax.Array) -> jax.Array:
        if inputs.ndim <= self.preserve_dims:
            return inputs
        return jnp.reshape(inputs, inputs.shape[:self.preserve_dims] + (-1,))


def _is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "reshape")


class BatchApply:
    """Applies `f` to inputs whose leading `num_dims` axes are merged into one.

    `BatchApply(torso)(x)` with x [T, B, ...] calls `torso` on [T*B, ...] and
    splits every array in the output back to [T, B, ...]. Every array argument
    must share the same leading `num_dims` dimensions; non-array arguments pass
    through unchanged.
    """

    def __init__(self, f: Callable[..., Any], num_dims: int = 2):
        if num_dims < 1:
            raise ValueError(f"BatchApply num_dims must be >= 1, got {num_dims}.")
        self.f = f
        self.num_dims = num_dims

    def __call__(self, *args, **kwargs) -> Any:
        num_dims = self.num_dims
        arrays = [x for x in jax.tree_util.tree_leaves((args, kwargs)) if _is_array(x)]
        leading = next((x.shape[:num_dims] for x in arrays if x.ndim >= num_dims), None)
        if leading is None:
            raise ValueError(f"BatchApply(num_dims={num_dims}) needs at least one array input with rank >= "
                             f"{num_dims}; got shapes {[tuple(x.shape) for x in arrays]}.")

        def merge(x):
            if not _is_array(x):
                return x
            if x.shape[:num_dims] != leading:
                raise ValueError(f"BatchApply: every array input must start with the leading shape {leading}, "
                                 f"but one has shape {tuple(x.shape)}.")
            return jnp.reshape(x, (-1,) + tuple(x.shape[num_dims:]))

        merged_args, merged_kwargs = jax.tree_util.tree_map(merge, (args, kwargs))
        out = self.f(*merged_args, **merged_kwargs)
        return jax.tree_util.tree_map(
            lambda y: jnp.reshape(y, tuple(leading) + tuple(y.shape[1:])) if _is_array(y) else y, out)


def one_hot(indices: jax.Array, num_classes: int, dtype: Any = jnp.float32) -> jax.Array:
    """Integer indices [...] -> one-hot vectors [..., num_classes]."""
    return jax.nn.one_hot(indices, num_classes, dtype=dtype)


def dropout(rng: Any, rate: float, x: jax.Array) -> jax.Array:
    """Zeroes each element with probability `rate` and scales the rest by 1/(1-rate)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}.")
    keep_rate = 1.0 - rate
    keep = jax.random.bernoulli(rng, keep_rate, x.shape)
    return jnp.where(keep, x / keep_rate, jnp.zeros_like(x))
