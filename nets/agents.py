"""The agent networks the service trains; each returns `(policy_logits [..., A], value [...])`.

- `PolicyValueMLP`: vector observations [..., D] -> MLP torso -> policy and value heads.
- `ImpalaNet`: Atari frames [..., 84, 84, C] -> IMPALA deep or shallow torso (or
  MinAtar grids [..., 10, 10, C] -> `MinAtarTorso`) -> optional LSTM core -> heads (Espeholt et al. 2018, https://arxiv.org/abs/1802.01561).
- `RecurrentMLPNet`: vector observations [..., D] -> MLP torso -> LSTM core -> heads.

A recurrent core may also read the previous action (one-hot) and reward, as
IMPALA's agent does: its input is `concat(torso(o_t), one_hot(a_{t-1}), r_{t-1})`,
with a_{t-1} = 0 and r_{t-1} = 0 at an episode's first step.

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
from vtrax.nets.minatar_torso import MinAtarTorso
from vtrax.nets.module import Module
from vtrax.nets.recurrent import LSTM, LSTMState, ResetCore, dynamic_unroll
from vtrax.nets.torsos import ImpalaDeepTorso, ImpalaShallowTorso

__all__ = ["PolicyValueMLP", "RecurrentMLPNet", "ImpalaDeepTorso", "ImpalaShallowTorso", "ImpalaNet", "TORSOS"]

TORSOS = {"deep": ImpalaDeepTorso, "shallow": ImpalaShallowTorso, "minatar": MinAtarTorso}


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
    (if use_lstm; w [256 (+ A + 1 with prev_action_reward) + lstm_size, 4 lstm_size]),
    `policy_logits`, `value`.
    """

    def __init__(self, num_actions: int, torso: str = "deep", use_lstm: bool = False, lstm_size: int = 256,
                 prev_action_reward: bool = False, name: Optional[str] = None):
        """Args:
          num_actions: size of the discrete action space A.
          torso: "deep" (ResNet), "shallow" or "minatar" (10x10 grids; nets/minatar_torso.py).
          use_lstm: put an LSTM core between torso and heads.
          lstm_size: LSTM hidden size.
          prev_action_reward: the LSTM also reads one_hot(a_{t-1}) and r_{t-1} (use_lstm only).
          name: module name; default "impala_net".
        """
        super().__init__(name=name)
        if torso not in TORSOS:
            raise ValueError(f"ImpalaNet torso must be one of {sorted(TORSOS)}, got {torso!r}.")
        self.num_actions = _check_positive(num_actions, "num_actions", "ImpalaNet")
        self.use_lstm = bool(use_lstm)
        self.lstm_size = _check_positive(lstm_size, "lstm_size", "ImpalaNet")
        if prev_action_reward and not self.use_lstm:
            raise ValueError("ImpalaNet(prev_action_reward=True) feeds the previous action and reward to the LSTM "
                             "core; pass use_lstm=True too.")
        self.prev_action_reward = bool(prev_action_reward)
        self.torso = TORSOS[torso]()
        self.core = LSTM(self.lstm_size) if self.use_lstm else None
        self.reset_core = ResetCore(self.core) if self.use_lstm else None
        self.policy_head = Linear(self.num_actions, name="policy_logits")
        self.value_head = Linear(1, name="value")

    def initial_state(self, batch_size: Optional[int]) -> LSTMState:
        """Zero LSTM state, each field [batch_size, lstm_size]."""
        self._require_lstm("initial_state")
        return self.core.initial_state(batch_size)

    def __call__(self, observation: jax.Array, state: Optional[LSTMState] = None, *,
                 prev_action: Optional[jax.Array] = None, prev_reward: Optional[jax.Array] = None):
        """One step.

        Feed-forward: `observation [..., H, W, C] -> (logits [..., A], value [...])`.
        Recurrent: `(observation [B, H, W, C], state) -> ((logits [B, A], value [B]), new_state)`;
        with prev_action_reward also `prev_action` int [B] and `prev_reward` float [B].
        """
        features = self.torso(observation)
        if not self.use_lstm:
            if state is not None:
                raise ValueError("ImpalaNet(use_lstm=False) is feed-forward and takes no state; call net(observation).")
            return self._heads(features)
        if state is None:
            raise ValueError("ImpalaNet(use_lstm=True) needs the core state: call net(observation, state) with "
                             "state = net.initial_state(batch_size) at the start of an episode.")
        features = _core_inputs(self, features, prev_action, prev_reward)
        features, new_state = self.core(features, state)
        return self._heads(features), new_state

    def unroll(self, observation: jax.Array, should_reset: jax.Array, state: Optional[LSTMState], *,
               prev_action: Optional[jax.Array] = None, prev_reward: Optional[jax.Array] = None):
        """Runs a [T, B] trajectory.

        Args:
          observation: frames [T, B, H, W, C].
          should_reset: bool [T, B]; True at step t resets that entry's state to the
            initial state before step t is processed (episode starts).
          state: core state at step 0, each field [B, lstm_size] (None if feed-forward).
          prev_action: int [T, B], a_{t-1} (0 at episode starts); prev_action_reward only.
          prev_reward: float [T, B], r_{t-1} (0 at episode starts); prev_action_reward only.

        Returns:
          `((logits [T, B, A], value [T, B]), final_state)`; feed-forward nets
          ignore `should_reset` and return `state` unchanged.
        """
        features = self.torso(observation)  # [T, B, 256] (128 for the MinAtar torso)
        if not self.use_lstm:
            return self._heads(features), state
        return _unroll_core(self, features, should_reset, state, prev_action, prev_reward)

    def _heads(self, features: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.policy_head(features), self.value_head(features)[..., 0]

    def _require_lstm(self, method: str) -> None:
        if not self.use_lstm:
            raise ValueError(f"ImpalaNet.{method} exists only for recurrent nets; construct ImpalaNet(..., "
                             "use_lstm=True).")


class RecurrentMLPNet(Module):
    """Recurrent policy-value network for vector observations: MLP torso, LSTM core, heads.

    The LSTM reads `concat(torso(o_t), one_hot(a_{t-1}), r_{t-1})`. Parameters:
    `torso/~/linear_{i}` (ReLU after every layer), `lstm/linear`
    [hidden_sizes[-1] + A + 1 + lstm_size, 4 lstm_size], `policy_logits`, `value`.
    """

    def __init__(self, num_actions: int, hidden_sizes: Sequence[int] = (64, 64), lstm_size: int = 128,
                 name: Optional[str] = None):
        super().__init__(name=name)
        self.num_actions = _check_positive(num_actions, "num_actions", "RecurrentMLPNet")
        hidden_sizes = tuple(hidden_sizes)
        for size in hidden_sizes:
            _check_positive(size, "hidden_sizes entries", "RecurrentMLPNet")
        self.lstm_size = _check_positive(lstm_size, "lstm_size", "RecurrentMLPNet")
        self.use_lstm = self.prev_action_reward = True
        self.torso = MLP(hidden_sizes, activate_final=True, name="torso")
        self.core = LSTM(self.lstm_size)
        self.reset_core = ResetCore(self.core)
        self.policy_head = Linear(self.num_actions, name="policy_logits")
        self.value_head = Linear(1, name="value")

    def initial_state(self, batch_size: Optional[int]) -> LSTMState:
        """Zero LSTM state, each field [batch_size, lstm_size]."""
        return self.core.initial_state(batch_size)

    def __call__(self, observation: jax.Array, state: LSTMState, *, prev_action: jax.Array,
                 prev_reward: jax.Array):
        """One step: `observation [B, D]`, `prev_action` int [B], `prev_reward` [B] ->
        `((logits [B, A], value [B]), new_state)`."""
        features = _core_inputs(self, self.torso(jnp.asarray(observation).astype(jnp.float32)), prev_action,
                                prev_reward)
        features, new_state = self.core(features, state)
        return (self.policy_head(features), self.value_head(features)[..., 0]), new_state

    def unroll(self, observation: jax.Array, should_reset: jax.Array, state: LSTMState, *,
               prev_action: jax.Array, prev_reward: jax.Array):
        """Runs a [T, B] trajectory; the arguments and result are `ImpalaNet.unroll`'s."""
        features = self.torso(jnp.asarray(observation).astype(jnp.float32))  # [T, B, H]
        return _unroll_core(self, features, should_reset, state, prev_action, prev_reward)


def _core_inputs(net, features: jax.Array, prev_action, prev_reward) -> jax.Array:
    """`concat(features [..., F], one_hot(prev_action) [..., A], prev_reward [..., 1])` if the net reads them."""
    if not net.prev_action_reward:
        return features
    if prev_action is None or prev_reward is None:
        raise ValueError(f"{type(net).__name__} reads the previous action and reward: pass prev_action (int "
                         "[..., B]) and prev_reward (float [..., B]), zeros at episode starts.")
    one_hot = jax.nn.one_hot(jnp.asarray(prev_action), net.num_actions, dtype=features.dtype)  # [..., A]
    reward = jnp.asarray(prev_reward, features.dtype)[..., None]  # [..., 1]
    return jnp.concatenate([features, one_hot, reward], axis=-1)


def _unroll_core(net, features: jax.Array, should_reset: jax.Array, state, prev_action, prev_reward):
    """LSTM over `features [T, B, F]` with resets, then the heads: `((logits, value), final_state)`."""
    owner = type(net).__name__
    if state is None:
        raise ValueError(f"{owner}.unroll needs the core state at step 0: pass net.initial_state(batch_size).")
    if tuple(should_reset.shape) != tuple(features.shape[:2]):
        raise ValueError(f"{owner}.unroll: should_reset must be [T, B] = {tuple(features.shape[:2])}, got "
                         f"{tuple(should_reset.shape)}.")
    features = _core_inputs(net, features, prev_action, prev_reward)  # [T, B, F (+ A + 1)]
    core_out, final_state = dynamic_unroll(net.reset_core, (features, should_reset), state)
    return (net.policy_head(core_out), net.value_head(core_out)[..., 0]), final_state
