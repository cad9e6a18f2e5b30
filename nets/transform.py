"""`transform`: turn a function that uses modules into a pair of pure functions.

    def forward(x):
        return nets.MLP([64, 2])(x)

    net = nets.transform(forward)
    params = net.init(jax.random.PRNGKey(0), x)     # {module_path: {name: array}}
    y = net.apply(params, None, x)                   # pure: jit / vmap / grad / pmap

`transform_with_state` does the same for functions that also use
`get_state`/`set_state`: `init -> (params, state)`, `apply(params, state, rng, ...)
-> (out, new_state)`. `without_apply_rng` drops the `rng` argument of `apply`.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, NamedTuple, Optional

from vtrax.nets import base, rng as rng_lib


class Transformed(NamedTuple):
    """`init(rng, *args) -> params`; `apply(params, rng, *args) -> out`."""

    init: Callable[..., Any]
    apply: Callable[..., Any]


class TransformedWithState(NamedTuple):
    """`init(rng, *args) -> (params, state)`; `apply(params, state, rng, *args) -> (out, state)`."""

    init: Callable[..., Any]
    apply: Callable[..., Any]


def _check_function(f: Any, name: str) -> None:
    if isinstance(f, (Transformed, TransformedWithState)):
        raise TypeError(f"{name} got an already transformed function; pass the plain Python function instead.")
    if not callable(f):
        raise TypeError(f"{name} expects a callable, got {type(f).__name__}.")


def _sequence_or_none(rng: Any, what: str) -> Optional[rng_lib.PRNGSequence]:
    if rng is None:
        return None
    return rng_lib.PRNGSequence(rng_lib.as_prng_key(rng, what=what))


def _check_tree(tree: Any, kind: str, signature: str) -> None:
    if not isinstance(tree, Mapping) or not all(isinstance(v, Mapping) for v in tree.values()):
        raise TypeError(
            f"apply expected the {kind} dict returned by init ({{module_path: {{name: array}}}}) but got "
            f"{type(tree).__name__}. Call it as {signature}.")


def _copy_state(state: Mapping) -> dict:
    return {path: dict(bundle) for path, bundle in state.items()}


def transform(f: Callable[..., Any]) -> Transformed:
    """Transforms `f` (which may build and call modules) into `(init, apply)`.

    `init(rng, *args, **kwargs)` runs `f` and returns the parameters it created;
    `apply(params, rng, *args, **kwargs)` runs `f` with those parameters and
    returns its output. `rng` may be a PRNG key, an int seed, or None (then any
    `next_rng_key()` raises `MissingRNGError`). `f` must not use state.
    """
    _check_function(f, "nets.transform")

    @functools.wraps(f)
    def init_fn(rng: Any, *args, **kwargs) -> dict:
        frame = base.Frame(params={}, state={}, rng=_sequence_or_none(rng, "init's rng"), creating=True,
                           allow_state=False, entry_point="init")
        with base.frame_scope(frame):
            f(*args, **kwargs)
        return frame.params

    @functools.wraps(f)
    def apply_fn(params: Mapping, rng: Any, *args, **kwargs) -> Any:
        _check_tree(params, "params", "apply(params, rng, *inputs)")
        frame = base.Frame(params=params, state={}, rng=_sequence_or_none(rng, "apply's rng"), creating=False,
                           allow_state=False, entry_point="apply")
        with base.frame_scope(frame):
            return f(*args, **kwargs)

    return Transformed(init=init_fn, apply=apply_fn)


def transform_with_state(f: Callable[..., Any]) -> TransformedWithState:
    """Like `transform`, for functions that also use `get_state` / `set_state`.

    `init(rng, *args) -> (params, initial_state)`;
    `apply(params, state, rng, *args) -> (out, new_state)`.
    """
    _check_function(f, "nets.transform_with_state")

    @functools.wraps(f)
    def init_fn(rng: Any, *args, **kwargs) -> tuple[dict, dict]:
        frame = base.Frame(params={}, state={}, rng=_sequence_or_none(rng, "init's rng"), creating=True,
                           allow_state=True, entry_point="init")
        with base.frame_scope(frame):
            f(*args, **kwargs)
        return frame.params, frame.initial_state

    @functools.wraps(f)
    def apply_fn(params: Mapping, state: Mapping, rng: Any, *args, **kwargs) -> tuple[Any, dict]:
        _check_tree(params, "params", "apply(params, state, rng, *inputs)")
        _check_tree(state, "state", "apply(params, state, rng, *inputs)")
        frame = base.Frame(params=params, state=_copy_state(state), rng=_sequence_or_none(rng, "apply's rng"),
                           creating=False, allow_state=True, entry_point="apply")
        with base.frame_scope(frame):
            out = f(*args, **kwargs)
        return out, frame.state

    return TransformedWithState(init=init_fn, apply=apply_fn)


def without_apply_rng(transformed):
    """Removes the `rng` argument from `apply` (for functions that need no randomness when applied).

    `Transformed`: `apply(params, *args)`; `TransformedWithState`: `apply(params, state, *args)`.
    """
    if isinstance(transformed, Transformed):
        def apply_fn(params, *args, **kwargs):
            return transformed.apply(params, None, *args, **kwargs)
        return Transformed(init=transformed.init, apply=functools.wraps(transformed.apply)(apply_fn))
    if isinstance(transformed, TransformedWithState):
        def apply_with_state_fn(params, state, *args, **kwargs):
            return transformed.apply(params, state, None, *args, **kwargs)
        return TransformedWithState(init=transformed.init,
                                    apply=functools.wraps(transformed.apply)(apply_with_state_fn))
    raise TypeError("without_apply_rng expects the result of nets.transform or nets.transform_with_state, got "
                    f"{type(transformed).__name__}.")
