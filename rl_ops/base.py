"""Shared helpers: trace-time input checks, indexing, masking, backward scans.

Every public op in `rl_ops` validates its inputs with `check_inputs` before
doing any arithmetic, so a wrong rank or dtype fails at trace time with a
message that names the function, the argument, the expected layout and the
shape or dtype that arrived, e.g.

    ValueError: vtrace: v_tm1 must have rank 1 [T], got shape (3, 4); one
    trajectory per call, batch with jax.vmap at the call site.
"""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

FLOAT = "float"
INT = "int"


def _layout_ranks(layout: str) -> tuple[set[int], Optional[int]]:
    """Parses "[T]", "[T, A]", "[] or [T]", "[..., A]", "[...]".

    Returns (exact ranks allowed, minimum rank or None when only exact ranks).
    """
    ranks: set[int] = set()
    min_rank: Optional[int] = None
    for part in layout.split(" or "):
        dims = [d.strip() for d in part.strip()[1:-1].split(",") if d.strip()]
        if "..." in dims:
            named = len(dims) - 1
            min_rank = named if min_rank is None else min(min_rank, named)
        else:
            ranks.add(len(dims))
    return ranks, min_rank


def _rank_text(layout: str) -> str:
    parts = []
    for part in layout.split(" or "):
        ranks, min_rank = _layout_ranks(part)
        rank = f">= {min_rank}" if min_rank is not None else str(next(iter(ranks)))
        parts.append(f"rank {rank} {part.strip()}")
    return " or ".join(parts)


def _is_python_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _dtype_ok(x: Any, kind: str) -> tuple[bool, str]:
    """Whether `x` has a dtype of `kind`, and the dtype's name for messages."""
    if kind == FLOAT and _is_python_number(x):
        return True, type(x).__name__
    if kind == INT and isinstance(x, int) and not isinstance(x, bool):
        return True, "int"
    dtype = jnp.result_type(x)
    if kind == FLOAT:
        return bool(jnp.issubdtype(dtype, jnp.floating)), str(dtype)
    return bool(jnp.issubdtype(dtype, jnp.integer)), str(dtype)


def check_inputs(fn_name: str, **specs: tuple[Any, str, str]) -> None:
    """Checks rank and dtype of each argument at trace time.

    Args:
      fn_name: the public function being called, used as the message prefix.
      **specs: `name=(value, kind, layout)`; `kind` is `FLOAT` or `INT`;
        `layout` names the dimensions: "[]" (scalar), "[T]", "[T, A]",
        alternatives joined by " or " ("[] or [T]"), and "..." for any
        number of leading dimensions ("[..., A]", "[...]").

    Raises:
      ValueError: naming the argument, the expected rank and layout and the
        shape it got, or the expected dtype kind and the dtype it got.
    """
    for name, (value, kind, layout) in specs.items():
        shape = tuple(jnp.shape(value))
        ranks, min_rank = _layout_ranks(layout)
        if len(shape) not in ranks and (min_rank is None or len(shape) < min_rank):
            hint = ""
            if min_rank is None and len(shape) > max(ranks):
                hint = "; one trajectory per call, batch with jax.vmap at the call site"
            raise ValueError(
                f"{fn_name}: {name} must have {_rank_text(layout)}, got shape {shape}{hint}")
        ok, dtype_name = _dtype_ok(value, kind)
        if not ok:
            if kind == FLOAT:
                raise ValueError(
                    f"{fn_name}: {name} must have a floating dtype, got {dtype_name}; "
                    f"cast it with {name}.astype(jnp.float32)")
            raise ValueError(
                f"{fn_name}: {name} must have an integer dtype (action indices), got "
                f"{dtype_name}; cast it with {name}.astype(jnp.int32)")


def check_equal_shapes(fn_name: str, **arrays: Any) -> None:
    """Raises ValueError unless all `arrays` have one shape (e.g. all [T])."""
    shapes = {name: tuple(jnp.shape(value)) for name, value in arrays.items()}
    if len(set(shapes.values())) > 1:
        got = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(
            f"{fn_name}: {', '.join(shapes)} must all have the same shape, got {got}")


def check_leading_dims(fn_name: str, **arrays: Any) -> None:
    """Raises ValueError unless all `arrays` agree on their first dimension T."""
    lengths = {name: jnp.shape(value)[0] for name, value in arrays.items()}
    if len(set(lengths.values())) > 1:
        got = ", ".join(f"{name} {tuple(jnp.shape(arrays[name]))}" for name in lengths)
        raise ValueError(
            f"{fn_name}: {', '.join(lengths)} must share the time dimension T, got {got}")


def check_per_step(fn_name: str, name: str, value: Any, like: Any, like_name: str = "discount_t") -> None:
    """A parameter of shape [] or [T] (e.g. `lambda_`) must match `like` when [T]."""
    if jnp.ndim(value) == 1 and jnp.shape(value) != jnp.shape(like):
        raise ValueError(
            f"{fn_name}: {name} must be a scalar or have the shape of {like_name} "
            f"{tuple(jnp.shape(like))}, got {tuple(jnp.shape(value))}")


def check_positive_int(fn_name: str, name: str, value: Any) -> None:
    """Raises ValueError unless `value` is a Python int >= 1 (a static size)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{fn_name}: {name} must be a Python int >= 1, got {value!r}")


def maybe_stop_gradient(x: Array, stop: Any) -> Array:
    """`stop_gradient(x)` if `stop`, else `x`; `stop` may be a traced bool."""
    if isinstance(stop, (bool, np.bool_)):
        return jax.lax.stop_gradient(x) if stop else x
    return jax.lax.select(jnp.asarray(stop, bool), jax.lax.stop_gradient(x), x)


def backward_recursion(x_t: Array, c_t: Array, init: Array) -> Array:
    """Solves `acc[t] = x_t[t] + c_t[t] * acc[t + 1]` backwards, `acc[T] = init`.

    The shared kernel of V-trace, λ-returns and GAE, as one `lax.scan` over
    time (no Python loop over T inside jitted code).

    Args:
      x_t: per-step increments, shape [T].
      c_t: per-step carry coefficients (discount x trace), shape [T].
      init: the value beyond the last step, shape [].

    Returns:
      acc[0..T-1], shape [T].
    """
    def step(acc, xs):
        x, c = xs
        acc = x + c * acc
        return acc, acc

    init = jnp.asarray(init, dtype=jnp.result_type(x_t))
    _, acc = jax.lax.scan(step, init, (x_t, c_t), reverse=True)
    return acc


def one_hot(indices: Array, num_classes: int, dtype: Any = jnp.float32) -> Array:
    """One-hot encodes `indices` [...] into [..., num_classes] (out of range -> 0)."""
    indices = jnp.asarray(indices)
    labels = jax.lax.broadcasted_iota(jnp.int32, indices.shape + (num_classes,), indices.ndim)
    return (indices[..., None] == labels).astype(dtype)


def batched_index(values: Array, indices: Array, keepdims: bool = False) -> Array:
    """Picks `values[..., indices]` per leading position, e.g. Q(s, a) from [T, A] and [T].

    Args:
      values: shape [..., A].
      indices: integer shape [...] (same leading shape as `values`); an index
        outside [0, A) gives NaN for float values.
      keepdims: keep a trailing axis of size 1.

    Returns:
      shape [...] (or [..., 1] with `keepdims`).
    """
    values = jnp.asarray(values)
    indices = jnp.asarray(indices)
    if indices.ndim != values.ndim - 1:
        raise ValueError(
            f"batched_index: indices must have rank values.ndim - 1 = {values.ndim - 1}, "
            f"got indices shape {indices.shape} for values shape {values.shape}")
    if not jnp.issubdtype(indices.dtype, jnp.integer):
        raise ValueError(f"batched_index: indices must have an integer dtype, got {indices.dtype}; "
                         f"cast them with indices.astype(jnp.int32)")
    # A one-hot select-and-sum, not a gather: its gradient is a select, where a gather's is a
    # scatter-add that XLA:CPU runs as a loop (the learner's hottest op); `where` rather than
    # a product so that -inf entries (log 0) stay -inf instead of 0 * -inf = NaN.
    num_values = values.shape[-1]
    chosen = indices[..., None] == jax.lax.broadcasted_iota(indices.dtype, (*indices.shape, num_values), indices.ndim)
    picked = jnp.sum(jnp.where(chosen, values, jnp.zeros((), values.dtype)), axis=-1, keepdims=True)
    if jnp.issubdtype(values.dtype, jnp.inexact):
        in_range = ((indices >= 0) & (indices < num_values))[..., None]
        picked = jnp.where(in_range, picked, jnp.array(jnp.nan, values.dtype))
    return picked if keepdims else picked[..., 0]


def lhs_broadcast(source: Array, target: Array) -> Array:
    """Reshapes `source` to broadcast against `target` from the left.

    `source` of shape (a, b) and `target` of shape (a, b, c, d) gives shape
    (a, b, 1, 1); each source dimension must equal the target's or be 1.
    """
    source = jnp.asarray(source)
    target_shape = jnp.shape(target)
    prefix = target_shape[:source.ndim]
    compatible = source.ndim <= len(target_shape) and all(
        s in (t, 1) for s, t in zip(source.shape, prefix))
    if not compatible:
        raise ValueError(
            f"lhs_broadcast: source shape {source.shape} must match the leading dimensions "
            f"of target shape {target_shape} (or be 1 there)")
    return jnp.reshape(source, source.shape + (1,) * (len(target_shape) - source.ndim))


def replace_masked(data: Array, replacement: Optional[Array], mask: Array) -> Array:
    """Keeps `data` where `mask` is true, takes `replacement` (default 0) elsewhere.

    Args:
      data: shape [B, ...].
      replacement: same shape as `data`, or None for zeros.
      mask: boolean, a left prefix of `data`'s shape, e.g. [B].
    """
    data = jnp.asarray(data)
    if replacement is None:
        replacement = jnp.zeros_like(data)
    return jnp.where(lhs_broadcast(mask, data), data, replacement)
