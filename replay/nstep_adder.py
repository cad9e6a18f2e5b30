"""`NStepAdder`: the Ape-X actor side. Vector steps in, one item of n-step transitions per step out.

Keeps the last n + 1 vector steps; once it has them, every `append` turns the
oldest into `num_envs` transitions (replay.nstep) and writes them as one slab
item `[1, num_envs, ...]` through a `SequenceAdder` (item length 1, period 1,
up to MAX_IN_FLIGHT_ITEMS unconfirmed), which brings backpressure (a
rate-limited table blocks `append`) and outage handling. Steps still in the window when the actor stops are not written.
"""

from __future__ import annotations

import collections
from typing import Mapping

import numpy as np

from vtrax.replay.adder import SequenceAdder
from vtrax.replay.nstep import n_step_transition, transition_step_spec

STEP_FIELDS = ("observation", "action", "reward", "discount", "valid", "param_version")
MAX_IN_FLIGHT_ITEMS = 8
"""Items written but not yet confirmed before `append` waits (bounds what a rate-limited table lets through)."""


class NStepAdder:
    """Writes n-step transitions of a vector of `num_envs` environments to a (prioritised) table.

    Args:
      address: `host:port` of the replay server.
      table: its table, built for `transition_step_spec` with `item_length=1`.
      observation_shape, observation_dtype: one env's observation.
      num_envs: environments per vector step.
      n_step: steps summed into one transition's return.
      discount: gamma.
      priority: priority of new items.
    """

    def __init__(self, address: str, table: str, observation_shape, observation_dtype, num_envs: int, *,
                 n_step: int, discount: float, priority: float = 1.0, connect_timeout_s: float = 300.0):
        if n_step < 1:
            raise ValueError(f"n_step must be >= 1, got {n_step}")
        self._discount = float(discount)
        self._window: collections.deque = collections.deque(maxlen=n_step + 1)
        self._adder = SequenceAdder(address, table, transition_step_spec(observation_shape, observation_dtype),
                                    num_envs, 1, item_length=1, period_steps=1, priority=priority,
                                    max_in_flight_items=MAX_IN_FLIGHT_ITEMS,
                                    connect_timeout_s=connect_timeout_s)

    def append(self, step: Mapping[str, np.ndarray]) -> None:
        """Take one vector step (the actor's step dict; fields beyond `STEP_FIELDS` are ignored)."""
        missing = [name for name in STEP_FIELDS if name not in step]
        if missing:
            raise ValueError(f"step is missing fields {missing}; an n-step adder needs {list(STEP_FIELDS)}")
        # NOTE: copies: the actor may reuse its arrays for the next step.
        self._window.append({name: np.array(step[name], copy=True) for name in STEP_FIELDS})
        if len(self._window) == self._window.maxlen:
            self._adder.append(n_step_transition(list(self._window), self._discount))

    def flush(self) -> None:
        self._adder.flush()

    def close(self) -> None:
        self._adder.close()

    def stats(self) -> dict[str, float]:
        return self._adder.stats()
