"""`AgentNetwork`: the pure init/apply pair the learner and the actors share.

Built from `nets` modules with `nets.transform`. Observations are time-major
`[T, B, *obs_shape]`; feed-forward networks accept any leading dims, recurrent
ones unroll over the first axis with resets where `should_reset` is True.

The recurrent core state travels as a dict of arrays, `{"hidden": [B, H],
"cell": [B, H]}`, the same names the trajectory stores under `core_state/...`.
For actors, `network.apply(params, obs[None])` on `[1, B, ...]` gives one
step's logits and values (jit it); recurrent actors use `unroll` to also get
the next core state.

Recurrent networks built with `prev_action_reward` (always for 'mlp' with
`use_lstm`) also read the previous action a_{t-1} (one-hot) and reward r_{t-1},
`prev_action` int [T, B] and `prev_reward` float [T, B], zeros at an episode's
first step; actors store exactly what they fed, and the learner feeds it back.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from vtrax import nets
from vtrax.learner.action_distribution import POLICIES

NETWORK_KINDS = ("mlp", "dueling_mlp", "impala_deep", "impala_shallow", "minatar", "dueling_minatar")
Q_NETWORK_KINDS = ("dueling_mlp", "dueling_minatar")
"""Kinds whose `apply` returns (q-values [T, B, A], max_a q [T, B]) instead of (logits, value)."""


class AgentNetwork(NamedTuple):
    """A policy/value network as pure functions.

    Attributes:
      init: `init(rng, observation [T, B, ...]) -> params`.
      apply: `apply(params, observation [T, B, ...], should_reset [T, B] = None,
        core_state = None, prev_action [T, B] = None, prev_reward [T, B] = None)
        -> (logits [T, B, A], value [T, B])`.
      unroll: like `apply` but returns `((logits, value), final_core_state)`
        (the final state is None for feed-forward networks).
      initial_state: `initial_state(batch_size) -> core_state` (None if feed-forward).
      num_actions: size A of the action set.
      is_recurrent: whether the network has an LSTM core.
      kind: 'mlp', 'impala_deep', 'impala_shallow' or 'minatar'.
      description: JSON-able dict naming the architecture (stored in checkpoints).
    """

    init: Callable[..., Any]
    apply: Callable[..., Any]
    unroll: Callable[..., Any]
    initial_state: Callable[[int], Any]
    num_actions: int
    is_recurrent: bool
    kind: str
    description: dict


def make_network(kind: str, num_actions: int, *, hidden_sizes: Sequence[int] = (64, 64), use_lstm: bool = False,
                 lstm_size: int = 256, shared_torso: bool = False, prev_action_reward: bool = False,
                 policy: str = "categorical", state_dependent_std: bool = False,
                 action_low: Sequence[float] | None = None,
                 action_high: Sequence[float] | None = None, normalize_observations: bool = False,
                 action_nvec: Sequence[int] | None = None) -> AgentNetwork:
    """An `AgentNetwork` of the given kind.

    Args:
      kind: 'mlp' (vector observations, e.g. CartPole), 'dueling_mlp' (a dueling Q network for
        vector observations: `apply` returns q-values and their max), 'dueling_minatar' (the same
        on MinAtar's torso, for 10x10xC grids), 'impala_deep' /
        'impala_shallow' (IMPALA's Atari torsos; uint8 frames are scaled to [0, 1]),
        or 'minatar' (MinAtar's one-conv torso for 10x10xC 0/1 grids, `nets.MinAtarTorso`,
        with the IMPALA heads and optional LSTM).
      num_actions: number of discrete actions A.
      hidden_sizes: MLP layer widths ('mlp' only).
      use_lstm: add an LSTM core after the torso.
      lstm_size: LSTM width when `use_lstm`.
      prev_action_reward: the LSTM also reads one_hot(a_{t-1}) and r_{t-1}
        (IMPALA kinds with `use_lstm`; 'mlp' with `use_lstm` always does).
      policy: 'categorical' (Discrete actions, logits [..., A]) or, for Box actions of
        `num_actions` = D dimensions, 'gaussian' / 'squashed_gaussian' (the policy output is
        concat(mean, log_std) [..., 2D]; `learner.action_distribution`). Gaussian policies are
        feed-forward 'mlp' networks with separate policy and value MLPs (tanh activations).
        'multi_categorical' for MultiDiscrete actions of `num_actions` = D dimensions with
        `action_nvec` [D] choices each: the policy output is sum(action_nvec) logits, one softmax
        per dimension; any feed-forward network kind.
      state_dependent_std: Gaussian policies: the log-std is a network output, not one learnt vector.
      action_low, action_high: the Box bounds [D]; 'squashed_gaussian' maps its samples onto them.
      action_nvec: 'multi_categorical' only: the number of choices of each of the D dimensions.
      normalize_observations: Gaussian policies: normalise observations by running statistics kept in the
        parameters (`nets.ObservationNorm`, updated by the learner: `learner/observation_norm.py`).
      shared_torso: 'mlp' only. False (default): separate policy and value
        MLPs (`policy/~/linear_i`, `value/~/linear_i`); True: one torso with
        two heads (`nets.PolicyValueMLP`), about 0.6x the update time. On
        CartPole with the preset, separate MLPs solved the task in 350K-400K
        frames and stayed solved in all 9 runs; the shared torso needed
        477K-975K frames and fell back in 3 of 9 (the value loss, with targets
        near 100, drags the shared features); see BENCHMARKS.md, learner.
    """
    if kind not in NETWORK_KINDS:
        raise ValueError(f"network kind must be one of {NETWORK_KINDS}, got {kind!r}")
    if not isinstance(num_actions, int) or num_actions < 1:
        raise ValueError(f"num_actions must be an int >= 1, got {num_actions!r}")
    if prev_action_reward and not use_lstm:
        raise ValueError("prev_action_reward feeds the previous action and reward to an LSTM core; pass "
                         "use_lstm=True too, or drop prev_action_reward")
    if kind in Q_NETWORK_KINDS:
        return _q_network(kind, num_actions, hidden_sizes, use_lstm)
    if kind == "mlp" and shared_torso and use_lstm:
        raise ValueError("shared_torso is a feed-forward 'mlp' option (the LSTM net always shares its torso); "
                         "drop shared_torso or use_lstm")
    if policy == "multi_categorical":
        return _multi_categorical_network(kind, num_actions, action_nvec, use_lstm=use_lstm, hidden_sizes=hidden_sizes,
                                          shared_torso=shared_torso)
    if policy != "categorical":
        return _gaussian_network(kind, num_actions, tuple(hidden_sizes), use_lstm=use_lstm, shared_torso=shared_torso,
                                 policy=policy, state_dependent_std=state_dependent_std, action_low=action_low,
                                 action_high=action_high, normalize_observations=normalize_observations)
    if normalize_observations:
        raise ValueError("normalize_observations is an option of the Gaussian policies (Box actions); drop it")
    description = {"kind": kind, "num_actions": num_actions, "use_lstm": bool(use_lstm)}
    if kind == "mlp" and use_lstm:
        description.update(hidden_sizes=[int(size) for size in hidden_sizes], lstm_size=int(lstm_size),
                           prev_action_reward=True)
        return _recurrent(lambda: nets.RecurrentMLPNet(num_actions, hidden_sizes=tuple(hidden_sizes),
                                                       lstm_size=lstm_size), kind, num_actions, description)
    if kind == "mlp":
        description.update(hidden_sizes=[int(size) for size in hidden_sizes], shared_torso=bool(shared_torso))
        if shared_torso:
            return _feed_forward(lambda: nets.PolicyValueMLP(num_actions, hidden_sizes=tuple(hidden_sizes)),
                                 kind, num_actions, description)
        return _feed_forward(lambda: _SeparateMLPs(num_actions, tuple(hidden_sizes)), kind, num_actions, description)
    torso = kind.split("_", 1)[1] if kind.startswith("impala_") else kind
    if not use_lstm:
        return _feed_forward(lambda: nets.ImpalaNet(num_actions, torso=torso), kind, num_actions, description)
    description.update(lstm_size=int(lstm_size), prev_action_reward=bool(prev_action_reward))
    return _recurrent(lambda: nets.ImpalaNet(num_actions, torso=torso, use_lstm=True, lstm_size=lstm_size,
                                             prev_action_reward=prev_action_reward),
                      kind, num_actions, description)


def _multi_categorical_network(kind: str, action_dim: int, action_nvec: Sequence[int] | None, *, use_lstm: bool,
                               hidden_sizes: Sequence[int], shared_torso: bool) -> AgentNetwork:
    """The categorical network of `kind` with sum(action_nvec) logits, described as D = `action_dim`
    MultiDiscrete dimensions (see `make_network`)."""
    if action_nvec is None or len(action_nvec) != action_dim or min(int(n) for n in action_nvec) < 1:
        raise ValueError(f"a multi_categorical policy needs action_nvec with num_actions = {action_dim} counts >= 1 "
                         f"(one per MultiDiscrete dimension), got {action_nvec!r}")
    if use_lstm:
        raise ValueError("a multi_categorical policy (MultiDiscrete actions) is feed-forward: the LSTM's "
                         "previous-action input is one Discrete index; drop use_lstm")
    nvec = [int(n) for n in action_nvec]
    network = make_network(kind, sum(nvec), hidden_sizes=hidden_sizes, shared_torso=shared_torso)
    description = {**network.description, "num_actions": action_dim, "policy": "multi_categorical",
                   "action_nvec": nvec}
    return network._replace(num_actions=action_dim, description=description)


def _gaussian_network(kind: str, action_dim: int, hidden_sizes: tuple[int, ...], *, use_lstm: bool,
                      shared_torso: bool, policy: str, state_dependent_std: bool, action_low, action_high,
                      normalize_observations: bool) -> AgentNetwork:
    """A Gaussian policy MLP beside a value MLP, for Box actions (see `make_network`)."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    if kind != "mlp" or use_lstm or shared_torso:
        raise ValueError(f"a {policy} policy (Box actions) is built on the feed-forward 'mlp' network with separate "
                         f"policy and value MLPs, got kind={kind!r}, use_lstm={use_lstm}, shared_torso={shared_torso}; "
                         "pass --network mlp without --use-lstm")
    description = {"kind": kind, "num_actions": action_dim, "use_lstm": False,
                   "hidden_sizes": [int(size) for size in hidden_sizes], "shared_torso": False, "policy": policy,
                   "state_dependent_std": bool(state_dependent_std)}
    if policy == "squashed_gaussian":
        if action_low is None or action_high is None:
            raise ValueError("a squashed_gaussian policy maps its samples onto the Box bounds; pass action_low "
                             "and action_high ([D] each)")
        description.update(action_low=[float(x) for x in action_low], action_high=[float(x) for x in action_high])
    if normalize_observations:
        description.update(normalize_observations=True)

    def module():
        return _GaussianMLPs(action_dim, hidden_sizes, state_dependent_std, normalize_observations)

    return _feed_forward(module, kind, action_dim, description)


class _GaussianMLPs:
    """Gaussian policy MLP and value MLP: float [..., F] -> (concat(mean, log_std) [..., 2D], value [...])."""

    def __init__(self, action_dim: int, hidden_sizes: tuple[int, ...], state_dependent_std: bool,
                 normalize_observations: bool = False):
        self.norm = nets.ObservationNorm(name="obs_norm") if normalize_observations else None
        self.policy = nets.GaussianPolicyMLP(action_dim, hidden_sizes, state_dependent_std=state_dependent_std,
                                             name="policy")
        self.value = nets.MLP(hidden_sizes + (1,), activation=jnp.tanh, name="value")

    def __call__(self, observation: Any) -> tuple[jax.Array, jax.Array]:
        observation = jnp.asarray(observation).astype(jnp.float32)
        if self.norm is not None:
            observation = self.norm(observation)
        return self.policy(observation), self.value(observation)[..., 0]


class _SeparateMLPs:
    """Policy MLP and value MLP side by side: float [..., D] -> (logits [..., A], value [...])."""

    def __init__(self, num_actions: int, hidden_sizes: tuple[int, ...]):
        self.policy = nets.MLP(hidden_sizes + (num_actions,), name="policy")
        self.value = nets.MLP(hidden_sizes + (1,), name="value")

    def __call__(self, observation: Any) -> tuple[jax.Array, jax.Array]:
        observation = jnp.asarray(observation).astype(jnp.float32)
        return self.policy(observation), self.value(observation)[..., 0]


def _q_network(kind: str, num_actions: int, hidden_sizes: Sequence[int], use_lstm: bool) -> AgentNetwork:
    """A dueling Q network (DQN/Ape-X): `apply` gives (q [T, B, A], max_a q [T, B]), so greedy acting,
    `vtrax eval` and `vtrax serve` read q-values where policy networks give logits."""
    if use_lstm:
        raise ValueError(f"network {kind!r} is feed-forward; drop use_lstm (the recurrent Q agent is r2d2)")
    description = {"kind": kind, "num_actions": num_actions, "use_lstm": False}
    if kind == "dueling_mlp":
        description["hidden_sizes"] = [int(size) for size in hidden_sizes]

    def q_and_value(observation: Any) -> tuple[jax.Array, jax.Array]:
        q_network = (nets.DuelingMLP(num_actions, hidden_sizes=tuple(hidden_sizes)) if kind == "dueling_mlp"
                     else nets.DuelingMinAtar(num_actions, name="dueling_minatar"))
        q_values = q_network(observation)  # [..., A]
        return q_values, jnp.max(q_values, axis=-1)

    return _feed_forward(lambda: q_and_value, kind, num_actions, description)


def _feed_forward(module: Callable[[], Any], kind: str, num_actions: int, description: dict) -> AgentNetwork:
    transformed = nets.transform(lambda observation: module()(observation))

    def init(rng: jax.Array, observation: Any) -> Any:
        return transformed.init(rng, observation)

    def apply(params: Any, observation: Any, should_reset: Any = None, core_state: Any = None,
              prev_action: Any = None, prev_reward: Any = None) -> Any:
        del should_reset, core_state, prev_action, prev_reward  # a feed-forward net reads only the observation
        return transformed.apply(params, None, observation)

    def unroll(params: Any, observation: Any, should_reset: Any = None, core_state: Any = None,
               prev_action: Any = None, prev_reward: Any = None) -> Any:
        return apply(params, observation), None

    return AgentNetwork(init=init, apply=apply, unroll=unroll, initial_state=lambda batch_size: None,
                        num_actions=num_actions, is_recurrent=False, kind=kind, description=description)


def _recurrent(module: Callable[[], Any], kind: str, num_actions: int, description: dict) -> AgentNetwork:
    def forward(observation, should_reset, core_state, prev_action, prev_reward):
        net = module()
        state = net.initial_state(observation.shape[1]) if core_state is None else _to_core(core_state)
        outputs, final_state = net.unroll(observation, should_reset, state, prev_action=prev_action,
                                          prev_reward=prev_reward)
        return outputs, _from_core(final_state)

    transformed = nets.transform(forward)
    initial = nets.transform(lambda batch_size: _from_core(module().initial_state(batch_size)))

    def no_resets(observation: Any) -> jax.Array:
        return jnp.zeros(jnp.shape(observation)[:2], bool)

    def init(rng: jax.Array, observation: Any) -> Any:
        time_batch = jnp.shape(observation)[:2]
        return transformed.init(rng, observation, no_resets(observation), None, jnp.zeros(time_batch, jnp.int32),
                                jnp.zeros(time_batch, jnp.float32))

    def unroll(params: Any, observation: Any, should_reset: Any = None, core_state: Any = None,
               prev_action: Any = None, prev_reward: Any = None) -> Any:
        should_reset = no_resets(observation) if should_reset is None else should_reset
        return transformed.apply(params, None, observation, should_reset, core_state, prev_action, prev_reward)

    def apply(params: Any, observation: Any, should_reset: Any = None, core_state: Any = None,
              prev_action: Any = None, prev_reward: Any = None) -> Any:
        return unroll(params, observation, should_reset, core_state, prev_action, prev_reward)[0]

    return AgentNetwork(init=init, apply=apply, unroll=unroll,
                        initial_state=lambda batch_size: initial.apply({}, None, batch_size),
                        num_actions=num_actions, is_recurrent=True, kind=kind, description=description)


def _to_core(core_state: dict) -> Any:
    return nets.LSTMState(hidden=core_state["hidden"], cell=core_state["cell"])


def _from_core(state: Any) -> dict:
    return {"hidden": state.hidden, "cell": state.cell}
