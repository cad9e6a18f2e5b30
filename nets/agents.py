"""The agent networks the service trains; each returns `(policy_logits [..., A], value [...])`.

- `PolicyValueMLP`: vector observations [..., D] -> MLP torso -> policy and value heads.
- `ImpalaNet`: Atari frames [..., 84, 84, C] -> IMPALA deep or shallow torso ->
  optional LSTM core -> heads (Espeholt et al. 2018, https://arxiv.org/abs/1802.01561).

Use inside `nets.transform`, e.g. for acting with a recurrent ImpalaNet:

    def act(observation, state):            # observation [B, 84, 84, 4]
        return ImpalaNet(num_actions, use_lstm=True)(observation, state)

and for learning over an unroll:

    def learn(observation, should_reset, state):   # [T, B, ...], [T, B]
        return ImpalaNet(num_actions, use_lstm=True).unroll(observation, should_reset, state)

Both functions create the same parameter tree, so params from either `init`
work with both `apply`s.
"""

from __future__ import annotations

from typing import Optional, Sequence

import jax
import jax.numpy as jnp

from vtrax.nets.linear import Linear
from vtrax.nets.mlp import MLP
from vtrax.nets.module import Module
from vtrax.nets.recurrent import LSTM, LSTMState, ResetCore, dynamic_unroll
from vtrax.nets.torsos import ImpalaDeepTorso, ImpalaShallowTorso

__all__ = ["PolicyValueMLP", "ImpalaDeepTorso", "ImpalaShallowTorso", "ImpalaNet", "TORSOS"]

TORSOS = {"deep": ImpalaDeepTorso, "shallow": ImpalaShallowTorso}


def _check_positive(value: int, what: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner} {what} must be a positive int, got {value!r}.")
    return value


class PolicyValueMLP(Module):
    """Feed-forward policy-value network for vector observations.

    Parameters: `torso/~/linear_{i}` (ReLU after every layer), `policy_logits`
    [H, A] and `value` [H, 1] under this module.
    """

    def __init__(self, num_actions: int, hidden_sizes: Sequence[int] = (64, 64), name: Optional[str] = None):
        super().__init__(name=name)
        self.num_actions = _check_positive(num_actions, "num_actions", "PolicyValueMLP")
        hidden_sizes = tuple(hidden_sizes)
        for size in hidden_sizes:
            _check_positive(size, "hidden_sizes entries", "PolicyValueMLP")
        self.torso = MLP(hidden_sizes, activate_final=True, name="torso")
        self.policy_head = Linear(self.num_actions, name="policy_logits")
        self.value_head = Linear(1, name="value")

    def __call__(self, observation: jax.Array) -> tuple[jax.Array, jax.Array]:
        """float [..., D] (any leading dims) -> (logits [..., A], value [...])."""
        observation = jnp.asarray(observation)
        if observation.ndim < 1:
            raise ValueError("PolicyValueMLP needs observations shaped [..., observation_size], got a scalar.")
        features = self.torso(observation.astype(jnp.float32))
        return self.policy_head(features), self.value_head(features)[..., 0]


class ImpalaNet(Module):
    """IMPALA agent network: torso, optional LSTM core, policy-logits and value heads.

    Parameters under this module: `impala_{deep,shallow}_torso/...`, `lstm/linear`
    (if use_lstm), `policy_logits`, `value`.
    """

    def __init__(self, num_actions: int, torso: str = "deep", use_lstm: bool = False, lstm_size: int = 256,
                 name: Optional[str] = None):
        """Args:
          num_actions: size of the discrete action space A.
          torso: "deep" (ResNet) or "shallow".
          use_lstm: put an LSTM core between torso and heads.
          lstm_size: LSTM hidden size.
          name: module name; default "impala_net".
        """
        super().__init__(name=name)
        if torso not in TORSOS:
            raise ValueError(f"ImpalaNet torso must be one of {sorted(TORSOS)}, got {torso!r}.")
        self.num_actions = _check_positive(num_actions, "num_actions", "ImpalaNet")
        self.use_lstm = bool(use_lstm)
        self.lstm_size = _check_positive(lstm_size, "lstm_size", "ImpalaNet")
        self.torso = TORSOS[torso]()
        self.core = LSTM(self.lstm_size) if self.use_lstm else None
        self.reset_core = ResetCore(self.core) if self.use_lstm else None
        self.policy_head = Linear(self.num_actions, name="policy_logits")
        self.value_head = Linear(1, name="value")

    def initial_state(self, batch_size: Optional[int]) -> LSTMState:
        """Zero LSTM state, each field [batch_size, lstm_size]."""
        self._require_lstm("initial_state")
        return self.core.initial_state(batch_size)

    def __call__(self, observation: jax.Array, state: Optional[LSTMState] = None):
        """One step.

        Feed-forward: `observation [..., H, W, C] -> (logits [..., A], value [...])`.
        Recurrent: `(observation [B, H, W, C], state) -> ((logits [B, A], value [B]), new_state)`.
        """
        features = self.torso(observation)
        if not self.use_lstm:
            if state is not None:
                raise ValueError("ImpalaNet(use_lstm=False) is feed-forward and takes no state; call net(observation).")
            return self._heads(features)
        if state is None:
            raise ValueError("ImpalaNet(use_lstm=True) needs the core state: call net(observation, state) with "
                             "state = net.initial_state(batch_size) at the start of an episode.")
        features, new_state = self.core(features, state)
        return self._heads(features), new_state

    def unroll(self, observation: jax.Array, should_reset: jax.Array, state: Optional[LSTMState]):
        """Runs a [T, B] trajectory.

        Args:
          observation: frames [T, B, H, W, C].
          should_reset: bool [T, B]; True at step t resets that entry's state to the
            initial state before step t is processed (episode starts).
          state: core state at step 0, each field [B, lstm_size] (None if feed-forward).

        Returns:
          `((logits [T, B, A], value [T, B]), final_state)`; feed-forward nets
          ignore `should_reset` and return `state` unchanged.
        """
        features = self.torso(observation)  # [T, B, 256]
        if not self.use_lstm:
            return self._heads(features), state
        if state is None:
            raise ValueError("ImpalaNet.unroll needs the core state at step 0: pass net.initial_state(batch_size).")
        if tuple(should_reset.shape) != tuple(features.shape[:2]):
            raise ValueError(f"ImpalaNet.unroll: should_reset must be [T, B] = {tuple(features.shape[:2])}, got "
                             f"{tuple(should_reset.shape)}.")
        core_out, final_state = dynamic_unroll(self.reset_core, (features, should_reset), state)
        return self._heads(core_out), final_state

    def _heads(self, features: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.policy_head(features), self.value_head(features)[..., 0]

    def _require_lstm(self, method: str) -> None:
        if not self.use_lstm:
            raise ValueError(f"ImpalaNet.{method} exists only for recurrent nets; construct ImpalaNet(..., "
                             "use_lstm=True).")
