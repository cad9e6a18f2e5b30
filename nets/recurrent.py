"""Recurrent cores (`LSTM`, `GRU`, `ResetCore`) and unrolls (`dynamic_unroll`, `static_unroll`).

A core is a module with `__call__(inputs, prev_state) -> (output, next_state)`
and `initial_state(batch_size)`. Unrolls run a core over a time-major sequence:

    inputs [T, B, ...] ──► core ──► outputs [T, B, ...]
    initial_state ─► s_0 ─► s_1 ─► ... ─► s_T (final_state)

`ResetCore` takes `(inputs_t, should_reset_t)` and replaces the state of batch
entries where `should_reset_t` is True by the initial state *before* step t runs,
which is how an unroll crosses episode boundaries:

    t:            0     1     2     3
    should_reset  F     F     T     F
    state used    s0    s1    init  s3'
"""

from __future__ import annotations

import abc
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp

from vtrax.nets import initializers
from vtrax.nets.base import Initializer, get_parameter
from vtrax.nets.linear import Linear
from vtrax.nets.module import Module
from vtrax.nets.scan import scan


class LSTMState(NamedTuple):
    """State of an `LSTM`: `hidden` and `cell`, each [B, hidden_size] (or [hidden_size])."""

    hidden: jax.Array
    cell: jax.Array


class RNNCore(Module):
    """Base class of recurrent cores (Haiku's `hk.RNNCore`)."""

    @abc.abstractmethod
    def __call__(self, inputs: Any, prev_state: Any) -> tuple[Any, Any]:
        """One step: `(inputs_t, state_{t-1}) -> (output_t, state_t)`."""

    @abc.abstractmethod
    def initial_state(self, batch_size: Optional[int]) -> Any:
        """The state before the first step; no batch axis when `batch_size` is None."""


def _add_batch(tree: Any, batch_size: Optional[int]) -> Any:
    if batch_size is None:
        return tree
    return jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (batch_size,) + x.shape), tree)


class LSTM(RNNCore):
    """Long short-term memory (Hochreiter & Schmidhuber 1997) with Haiku's parameter layout.

    One `Linear` (`lstm/linear`, w [input_size + hidden_size, 4 * hidden_size])
    maps `concat(x_t, h_{t-1})` to the gates in the order i, g, f, o; the forget
    gate gets +1 at call time (Jozefowicz et al. 2015):

        c_t = sigmoid(f + 1) * c_{t-1} + sigmoid(i) * tanh(g)
        h_t = sigmoid(o) * tanh(c_t)
    """

    def __init__(self, hidden_size: int, name: Optional[str] = None):
        super().__init__(name=name)
        self.hidden_size = int(hidden_size)

    def __call__(self, inputs: jax.Array, prev_state: LSTMState) -> tuple[jax.Array, LSTMState]:
        """inputs [B, D], prev_state [B, H] each -> (h_t [B, H], LSTMState(h_t, c_t))."""
        if inputs.ndim < 1:
            raise ValueError(f"LSTM '{self.module_name}' got a scalar input; it needs [batch, features].")
        x_and_h = jnp.concatenate([inputs, prev_state.hidden], axis=-1)
        gated = Linear(4 * self.hidden_size)(x_and_h)
        i, g, f, o = jnp.split(gated, 4, axis=-1)
        f = jax.nn.sigmoid(f + 1.0)
        c = f * prev_state.cell + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return h, LSTMState(hidden=h, cell=c)

    def initial_state(self, batch_size: Optional[int]) -> LSTMState:
        zeros = jnp.zeros([self.hidden_size])
        return _add_batch(LSTMState(hidden=zeros, cell=zeros), batch_size)


class GRU(RNNCore):
    """Gated recurrent unit (Chung et al. 2014, https://arxiv.org/abs/1412.3555) with Haiku's layout.

    Parameters `w_i` [input_size, 3H], `w_h` [H, 3H], `b` [3H], gate order z, r, a:

        z, r = sigmoid(x W_i[:, :2H] + h W_h[:, :2H] + b[:2H])
        a    = tanh(x W_i[:, 2H:] + (r * h) W_h[:, 2H:] + b[2H:])
        h_t  = (1 - z) * h + z * a
    """

    def __init__(self, hidden_size: int, w_i_init: Optional[Initializer] = None,
                 w_h_init: Optional[Initializer] = None, b_init: Optional[Initializer] = None,
                 name: Optional[str] = None):
        super().__init__(name=name)
        self.hidden_size = int(hidden_size)
        self.w_i_init = w_i_init or initializers.VarianceScaling()
        self.w_h_init = w_h_init or initializers.VarianceScaling()
        self.b_init = b_init or jnp.zeros

    def __call__(self, inputs: jax.Array, prev_state: jax.Array) -> tuple[jax.Array, jax.Array]:
        """inputs [B, D], prev_state [B, H] -> (h_t [B, H], h_t)."""
        if inputs.ndim < 1:
            raise ValueError(f"GRU '{self.module_name}' got a scalar input; it needs [batch, features].")
        hidden = self.hidden_size
        w_i = get_parameter("w_i", [inputs.shape[-1], 3 * hidden], inputs.dtype, init=self.w_i_init)
        w_h = get_parameter("w_h", [hidden, 3 * hidden], inputs.dtype, init=self.w_h_init)
        b = get_parameter("b", [3 * hidden], inputs.dtype, init=self.b_init)
        gates_x = jnp.matmul(inputs, w_i)
        zr_x, a_x = gates_x[..., :2 * hidden], gates_x[..., 2 * hidden:]
        zr_h = jnp.matmul(prev_state, w_h[:, :2 * hidden])
        zr = jax.nn.sigmoid(zr_x + zr_h + jnp.broadcast_to(b[:2 * hidden], zr_h.shape))
        z, r = zr[..., :hidden], zr[..., hidden:]
        a_h = jnp.matmul(r * prev_state, w_h[:, 2 * hidden:])
        a = jnp.tanh(a_x + a_h + jnp.broadcast_to(b[2 * hidden:], a_h.shape))
        next_state = (1.0 - z) * prev_state + z * a
        return next_state, next_state

    def initial_state(self, batch_size: Optional[int]) -> jax.Array:
        return _add_batch(jnp.zeros([self.hidden_size]), batch_size)


def _conform_reset(should_reset: jax.Array, state: jax.Array) -> jax.Array:
    """[B] flags -> [B, 1, ...] so they select whole batch entries of `state`."""
    if tuple(should_reset.shape) != tuple(state.shape[:should_reset.ndim]):
        raise ValueError(f"ResetCore: should_reset shape {tuple(should_reset.shape)} must be a prefix of the state "
                         f"shape {tuple(state.shape)} (usually [batch_size]).")
    return jnp.reshape(should_reset, tuple(should_reset.shape) + (1,) * (state.ndim - should_reset.ndim))


class ResetCore(RNNCore):
    """Wraps a core; resets its state to `initial_state` where `should_reset` is True (see module docstring).

    `__call__((inputs [B, ...], should_reset [B] bool), prev_state) -> core output, next state`.
    """

    def __init__(self, core: RNNCore, name: Optional[str] = None):
        super().__init__(name=name)
        self.core = core

    def __call__(self, inputs: tuple[Any, jax.Array], prev_state: Any) -> tuple[Any, Any]:
        inputs, should_reset = inputs
        should_reset = jnp.asarray(should_reset, dtype=bool)
        batch_size = jax.tree_util.tree_leaves(inputs)[0].shape[0]
        initial = jax.tree_util.tree_map(lambda s, i: i.astype(s.dtype), prev_state,
                                         self.core.initial_state(batch_size))
        state = jax.tree_util.tree_map(
            lambda init, prev: jnp.where(_conform_reset(should_reset, prev), init, prev), initial, prev_state)
        return self.core(inputs, state)

    def initial_state(self, batch_size: Optional[int]) -> Any:
        return self.core.initial_state(batch_size)


def _swap_time_batch(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda x: jnp.swapaxes(x, 0, 1), tree)


def dynamic_unroll(core: Any, input_sequence: Any, initial_state: Any, time_major: bool = True,
                   reverse: bool = False, return_all_states: bool = False, unroll: int = 1) -> tuple[Any, Any]:
    """Runs `core` over a sequence with one compiled loop (`nets.scan`).

    Args:
      core: callable `(inputs_t, state) -> (output_t, next_state)`, e.g. an `RNNCore`.
      input_sequence: pytree of [T, B, ...] arrays ([B, T, ...] if not time_major).
      initial_state: the core state before step 0.
      time_major: whether time is the leading axis of inputs and outputs.
      reverse: run from the last step to the first.
      return_all_states: return the state after every step instead of the final one.
      unroll: loop iterations XLA unrolls.

    Returns:
      `(outputs [T, B, ...], final_state)`, or `(outputs, states [T, B, ...])`
      when `return_all_states`.
    """
    if not time_major:
        input_sequence = _swap_time_batch(input_sequence)

    def step(state, inputs_t):
        output_t, next_state = core(inputs_t, state)
        return next_state, ((output_t, next_state) if return_all_states else output_t)

    final_state, outputs = scan(step, initial_state, input_sequence, reverse=reverse, unroll=unroll)
    if return_all_states:
        outputs, final_state = outputs
        if not time_major:
            final_state = _swap_time_batch(final_state)
    if not time_major:
        outputs = _swap_time_batch(outputs)
    return outputs, final_state


def static_unroll(core: Any, input_sequence: Any, initial_state: Any, time_major: bool = True) -> tuple[Any, Any]:
    """Runs `core` over a sequence with a Python loop (unrolled in the graph); same results as `dynamic_unroll`.

    Returns:
      `(outputs [T, B, ...], final_state)`.
    """
    if not time_major:
        input_sequence = _swap_time_batch(input_sequence)
    num_steps = jax.tree_util.tree_leaves(input_sequence)[0].shape[0]
    state, outputs = initial_state, []
    for t in range(num_steps):
        output_t, state = core(jax.tree_util.tree_map(lambda x, t=t: x[t], input_sequence), state)
        outputs.append(output_t)
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *outputs)
    if not time_major:
        stacked = _swap_time_batch(stacked)
    return stacked, state
