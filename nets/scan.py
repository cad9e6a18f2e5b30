"""`scan`: `jax.lax.scan` for step functions that call modules (Haiku's `hk.scan`).

A plain `lax.scan` cannot create parameters inside its body (they would be
tracers local to the loop), and state set inside the body would leak. `scan`
therefore:

1. during `init`, runs the step once on the first slice of `xs` outside the
   loop, so every parameter and state entry exists before the loop is traced
   (module numbering is rewound afterwards so the loop body names its modules
   the same way);
2. threads the state dict and a PRNG key through the loop carry, so
   `get_state`/`set_state`/`next_rng_key` work inside the body;
3. freezes parameter creation inside the body: a parameter that only the loop
   would create is an error, never a leaked tracer.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Optional, Tuple

import jax

from vtrax.nets import base, rng as rng_lib


def scan(f: Callable[[Any, Any], Tuple[Any, Any]], init: Any, xs: Any, length: Optional[int] = None,
         reverse: bool = False, unroll: int = 1) -> Tuple[Any, Any]:
    """`jax.lax.scan(f, init, xs)` that may use modules, state and `next_rng_key` in `f`.

    Args:
      f: step function `(carry, x) -> (carry, y)`.
      init: initial carry.
      xs: pytree of arrays with a leading time axis (or None with `length`).
      length: number of steps when `xs` is None.
      reverse: scan from the last element to the first.
      unroll: how many steps XLA unrolls per loop iteration.

    Returns:
      `(final_carry, ys)` with `ys` stacked along a new leading axis.
    """
    frame = base.current_frame("nets.scan")
    if frame.creating:
        _create_with_first_step(frame, f, init, xs, reverse)
    key = None if frame.rng is None else next(frame.rng)

    def body(carry, x):
        user_carry, state, step_key = carry
        saved = (frame.state, frame.rng, frame.creating)
        frame.state = {path: dict(bundle) for path, bundle in state.items()}
        frame.rng = None if step_key is None else rng_lib.PRNGSequence(step_key)
        frame.creating = False  # NOTE: parameters already exist (step 1 above); never create tracers here.
        try:
            user_carry, y = f(user_carry, x)
            new_key = None if frame.rng is None else frame.rng.key
            return (user_carry, frame.state, new_key), y
        finally:
            frame.state, frame.rng, frame.creating = saved

    (final_carry, final_state, _), ys = jax.lax.scan(
        body, (init, frame.state, key), xs, length=length, reverse=reverse, unroll=unroll)
    frame.state = {path: dict(bundle) for path, bundle in final_state.items()}
    return final_carry, ys


def _create_with_first_step(frame: base.Frame, f, init, xs, reverse: bool) -> None:
    """Runs `f` once outside the loop so parameters and state exist (init only)."""
    x0 = None if xs is None else jax.tree_util.tree_map(lambda x: x[-1 if reverse else 0], xs)
    counters = collections.Counter(frame.counter_stack[-1])
    used_names = set(frame.used_names_stack[-1])
    state_before = {path: dict(bundle) for path, bundle in frame.state.items()}
    f(init, x0)
    frame.counter_stack[-1] = counters
    frame.used_names_stack[-1] = used_names
    # Values set by this extra step are discarded; entries it created start at their initial value.
    frame.state = {
        path: {name: state_before.get(path, {}).get(name, frame.initial_state.get(path, {}).get(name, value))
               for name, value in bundle.items()}
        for path, bundle in frame.state.items()}
