"""`TrainConfig`: everything `vtrax train` needs, frozen and validated, with presets.

The learner's hyperparameters live in `learner.LearnerConfig` (nested as
`learner`); the fields here steer the actors, replay and the run itself. Every
field of both becomes a `vtrax train --flag`, its docstring the flag's help.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from vtrax.deploy.continuous_presets import classic_continuous_learner, mujoco_learner
from vtrax.learner.config import LearnerConfig, atari_config, cartpole_config, from_known_fields, minatar_config
from vtrax.learner.dqn_config import DQNConfig
from vtrax.learner.network import NETWORK_KINDS

LAUNCHERS = ("ray", "local")
CONTINUOUS_POLICIES = ("gaussian", "squashed_gaussian")
AGENT_NAMES = ("impala", "dqn", "r2d2")
"""The `--agent` choices; deploy/agents builds each (tests check the two lists agree)."""
VECTOR_NETWORKS = ("mlp", "dueling_mlp")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One training run: environment, actors, replay, limits, and the learner."""

    agent: str = "impala"
    """The algorithm: 'impala' (V-trace on a FIFO queue), 'dqn' (Ape-X: n-step double Q-learning on a
    prioritised table) or 'r2d2' (LSTM Q network on stored sequences); dqn and r2d2 run an evaluator whose
    greedy returns are the run's."""
    env_id: str = "CartPole-v1"
    """Gymnasium id: classic control as is, ALE/<Game>-v5 with Atari preprocessing, or MinAtar/<Game>-v1."""
    network: str = "mlp"
    """Agent network: 'mlp' (vector observations), 'dueling_mlp' (DQN's Q network), 'impala_deep' or
    'impala_shallow' (Atari), 'minatar' (MinAtar)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """MLP torso layer sizes (mlp network only)."""
    use_lstm: bool = False
    """Add an LSTM core between torso and heads (any network); it also reads the previous action and reward."""
    lstm_size: int = 256
    """LSTM width when use_lstm is on."""
    num_actors: int = 0
    """Actor processes; 0: one per spare core locally (at least 1), one per spare cluster CPU with --address."""
    num_envs_per_actor: int = 16
    """Environments each actor steps as one vector."""
    param_refresh_period_unrolls: int = 1
    """Actors check for newer parameters every this many unrolls (never blocking)."""
    max_queue_size: int = 64
    """Replay queue capacity in items (one item = one actor's unroll of all its envs)."""
    max_env_frames: int = 0
    """Stop after this many env frames (0: no limit)."""
    max_seconds: float = 0.0
    """Stop after this many wall-clock seconds from the command's start (0: no limit)."""
    target_return: float | None = None
    """Mean return over the last 100 episodes that counts as solved (None: none)."""
    stop_at_target: bool = False
    """Stop as soon as the target return is reached."""
    seed: int = 0
    """One seed, split per role: learner init, each actor's envs and sampler."""
    address: str | None = None
    """Ray cluster address ('auto' on a `ray up` head node); None starts Ray on this machine."""
    learner_num_gpus: float = 0.0
    """GPUs the learner asks Ray for (set on clusters with GPU learners)."""
    actor_max_restarts: int = 3
    """How many times Ray restarts a dead actor process."""
    learner_max_restarts: int = 3
    """How many times Ray restarts a dead learner process (it restores the newest checkpoint)."""
    replay_checkpoint_period_s: float | None = None
    """Seconds between checkpoints of a replay table worth keeping (dqn, r2d2; never IMPALA's queue), in
    RUN_DIR/replay; None: the learner's checkpoint_period_s; 0: only the final one at shutdown."""
    stall_timeout_s: float = 120.0
    """Stop the run (exit 1) when env frames or learner updates do not grow for this many seconds (0: never)."""
    report_period_s: float = 1.0
    """Seconds between console/metrics reports."""
    metrics_export_port: int | None = None
    """Port where Ray serves Prometheus metrics on a local run (None: Ray picks one)."""
    launcher: str = "ray"
    """Where the roles run: 'ray' (one Ray process per role; clusters with --address) or 'local' (one process,
    threads and an in-process Reverb server: for breakpoints, profiling and fast tests)."""
    dashboard: bool = False
    """Start Ray's dashboard on a local run (adds ~3 s to start-up)."""
    continuous_policy: str = "gaussian"
    """Box action spaces only: 'gaussian' (raw samples, clipped to the bounds for the env) or 'squashed_gaussian'
    (tanh onto the bounds, with the log-probability correction)."""
    state_dependent_std: bool = False
    """Box action spaces only: the Gaussian's log-std is a network output (default: one learnt vector)."""
    normalize_observations: bool = False
    """Box action spaces only: normalise observations by running mean/std (in the params: checkpointed, used by
    eval and serve)."""
    learner: LearnerConfig = dataclasses.field(default_factory=cartpole_config)
    """The learner's hyperparameters."""
    dqn: DQNConfig = dataclasses.field(default_factory=DQNConfig)
    """The DQN family's hyperparameters (read only by --agent dqn)."""

    def __post_init__(self) -> None:
        if self.agent not in AGENT_NAMES:
            raise ValueError(f"agent must be one of {AGENT_NAMES}, got {self.agent!r}; pass e.g. --agent dqn")
        if self.launcher not in LAUNCHERS:
            raise ValueError(f"launcher must be one of {LAUNCHERS}, got {self.launcher!r}")
        if self.launcher == "local" and self.address:
            raise ValueError("--launcher local runs every role in this process and cannot join a Ray cluster; "
                             "drop --address, or use --launcher ray")
        if self.network not in NETWORK_KINDS:
            raise ValueError(f"network must be one of {NETWORK_KINDS}, got {self.network!r}")
        for name in ("num_envs_per_actor", "param_refresh_period_unrolls", "max_queue_size",
                     "report_period_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("num_actors", "max_env_frames", "max_seconds", "actor_max_restarts", "learner_max_restarts",
                     "learner_num_gpus", "stall_timeout_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.replay_checkpoint_period_s is not None and self.replay_checkpoint_period_s < 0:
            raise ValueError(f"replay_checkpoint_period_s must be >= 0 (0: only at shutdown) or None (the "
                             f"learner's period), got {self.replay_checkpoint_period_s!r}")
        if self.stop_at_target and self.target_return is None:
            raise ValueError("stop_at_target needs target_return; set --target-return or drop --stop-at-target")
        if self.continuous_policy not in CONTINUOUS_POLICIES:
            raise ValueError(f"continuous_policy must be one of {CONTINUOUS_POLICIES}, got {self.continuous_policy!r}")
        if self.lstm_size < 1:
            raise ValueError(f"lstm_size must be >= 1, got {self.lstm_size}")
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes must be positive layer sizes, got {self.hidden_sizes!r}")

    @property
    def unroll_length(self) -> int:
        return self.learner.unroll_length

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["hidden_sizes"] = list(self.hidden_sizes)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        values = dict(values)
        values["learner"] = LearnerConfig.from_dict(values.get("learner", {}))
        values["dqn"] = DQNConfig.from_dict(values.get("dqn", {}))
        values["hidden_sizes"] = tuple(values.get("hidden_sizes", (64, 64)))
        return from_known_fields(cls, values)


def network_options(config: TrainConfig, spec: Any = None) -> dict[str, Any]:
    """Keyword arguments of `learner.make_network` for this config (learner, actors, eval and serve agree).

    With the environment's `actors.EnvSpec` of a Box action space, also the Gaussian policy's options; of a
    MultiDiscrete one, the multi-categorical policy's.
    """
    lstm = {"use_lstm": True, "lstm_size": config.lstm_size, "prev_action_reward": True} if config.use_lstm else {}
    continuous = {}
    if spec is not None and spec.is_multi_discrete:
        continuous = {"policy": "multi_categorical", "action_nvec": spec.action_nvec}
    if spec is not None and spec.is_continuous:
        continuous = {"policy": config.continuous_policy, "state_dependent_std": config.state_dependent_std,
                      "normalize_observations": config.normalize_observations}
        if config.continuous_policy == "squashed_gaussian":
            continuous.update(action_low=spec.action_low, action_high=spec.action_high)
    if config.network in VECTOR_NETWORKS:
        return {"hidden_sizes": tuple(config.hidden_sizes), **lstm, **continuous}
    return {**lstm, **continuous}


def core_state_shapes(config: TrainConfig) -> dict[str, tuple[int, ...]] | None:
    """Per-env shapes of the recurrent state the actors store (None for feed-forward networks)."""
    return {"hidden": (config.lstm_size,), "cell": (config.lstm_size,)} if config.use_lstm else None


MAX_LOCAL_ACTORS_PER_CORE = 4


def check_fits(config: TrainConfig, observation_shape: tuple[int, ...], spec: Any = None) -> None:
    """Refuse, before anything starts, a config that cannot run on this environment or machine.

    `spec` (`actors.EnvSpec`) adds the checks of Box action spaces.

    Raises:
      ValueError: one sentence naming the problem and a combination that works.
    """
    if spec is not None and spec.is_continuous and (len(observation_shape) != 1 or config.use_lstm):
        raise ValueError(f"{config.env_id} has continuous (Box) actions, which vtrax learns with a feed-forward "
                         f"Gaussian mlp policy on vector observations, but this run has observation shape "
                         f"{tuple(observation_shape)} and use_lstm={config.use_lstm}; choose a state-vector env (e.g. "
                         "HalfCheetah-v5, Pendulum-v1) with --network mlp and without --use-lstm")
    if spec is not None and spec.is_multi_discrete and config.use_lstm:
        raise ValueError(f"{config.env_id} has MultiDiscrete actions, which vtrax learns with a feed-forward policy "
                         "(one softmax per dimension), but this run has use_lstm=True; drop --use-lstm (or pass "
                         "--use-lstm false)")
    if config.network not in VECTOR_NETWORKS and len(observation_shape) != 3:
        raise ValueError(f"network {config.network!r} needs image observations [H, W, C], but {config.env_id} "
                         f"gives shape {tuple(observation_shape)}; pass --network mlp (or --preset cartpole, with "
                         "or without --use-lstm)")
    if config.network in VECTOR_NETWORKS and len(observation_shape) != 1:
        fix = ("--preset minatar (or --network minatar)" if config.env_id.startswith("MinAtar/") else
               "--network impala_deep or impala_shallow (or --preset atari)")
        raise ValueError(f"network {config.network!r} needs vector observations [D], but {config.env_id} gives shape "
                         f"{tuple(observation_shape)}; pass {fix}, with or without --use-lstm")
    cores = os.cpu_count() or 1
    if not config.address and config.num_actors > MAX_LOCAL_ACTORS_PER_CORE * cores:
        raise ValueError(f"--num-actors {config.num_actors} is far beyond this machine's {cores} cores (one process "
                         f"or thread each); use at most {MAX_LOCAL_ACTORS_PER_CORE * cores}, raise "
                         "--num-envs-per-actor instead, or train on a cluster with --address")


def resolved_num_actors(config: TrainConfig) -> int:
    """Actors to start: the configured number, or one per spare core locally."""
    if config.num_actors:
        return config.num_actors
    return max(1, (os.cpu_count() or 2) - 1)


PRESETS = {
    # Stops once solved (mean of the last 100 returns >= 475), or after 5 minutes. With --use-lstm a 64-wide
    # core: on CPU a 256-wide one makes each update ~15x slower (154 ms vs 10.5 ms per gradient of 32 x 21 steps).
    "cartpole": lambda: TrainConfig(env_id="CartPole-v1", network="mlp", target_return=475.0, stop_at_target=True,
                                    max_seconds=300.0, num_envs_per_actor=64, max_queue_size=8, lstm_size=64,
                                    learner=cartpole_config()),
    "atari": lambda: TrainConfig(env_id="ALE/Pong-v5", network="impala_deep", num_envs_per_actor=8,
                                 max_queue_size=32, target_return=None, learner=atari_config()),
    # Any of the five games with --env MinAtar/<Game>-v1. 64 envs per actor as for CartPole: a MinAtar step
    # costs ~5 us, so the jitted policy call per vector step is what bounds the actors. The queue is short
    # (8 items) so that actors stay at most a few parameter versions behind the learner.
    "minatar": lambda: TrainConfig(env_id="MinAtar/Breakout-v1", network="minatar", num_envs_per_actor=64,
                                   max_queue_size=8, target_return=None, lstm_size=128,
                                   learner=minatar_config()),
    # The T-maze memory task (actors/tmaze.py): with the LSTM (the preset's default) the return goes to +1;
    # `--use-lstm false` gives the feed-forward agent, whose best possible expected return is 0. A 64-wide core
    # and CartPole's learner values, as for `--preset cartpole --use-lstm`.
    # CartPole-v1 with the velocities hidden (actors/cartpole_no_velocity.py): the LSTM agent must infer them
    # from the observations it has seen; `--use-lstm false` shows the feed-forward agent's plateau. The
    # cartpole preset's learner and 64-wide core; 400 is the bar (475 is CartPole's solved level).
    "cartpole-no-velocity": lambda: TrainConfig(
        env_id="vtrax/CartPoleNoVelocity-v1", network="mlp", use_lstm=True, lstm_size=64, num_envs_per_actor=64,
        max_queue_size=8, target_return=400.0, max_seconds=300.0, learner=cartpole_config()),
    "memory": lambda: TrainConfig(env_id="vtrax/TMaze-v0", network="mlp", hidden_sizes=(64,), use_lstm=True,
                                  lstm_size=64, num_envs_per_actor=64, max_queue_size=8, target_return=0.9,
                                  max_seconds=300.0, learner=cartpole_config()),
    # Box actions, Gaussian policy; the learner values and their sources are in deploy/continuous_presets.py.
    # Pendulum-v1: stops at the benchmark's -250, or after 5 minutes (with --env MountainCarContinuous-v0 pass
    # --target-return 90, its solved level: -250 means nothing there).
    "classic-continuous": lambda: TrainConfig(
        env_id="Pendulum-v1", network="mlp", hidden_sizes=(64, 64), num_envs_per_actor=16, max_queue_size=8,
        target_return=-250.0, stop_at_target=True, max_seconds=300.0, learner=classic_continuous_learner()),
    # HalfCheetah-v5 (or any --env of the MuJoCo suite), 30 minutes.
    "mujoco": lambda: TrainConfig(env_id="HalfCheetah-v5", network="mlp", hidden_sizes=(64, 64),
                                  num_envs_per_actor=16, max_queue_size=8, max_seconds=1800.0,
                                  normalize_observations=True, learner=mujoco_learner()),
}


AGENT_PRESETS = {
    # Ape-X DQN on CartPole (BENCHMARKS.md, agents): the evaluator's greedy return is the run's return.
    # lr 1e-3 with the target copied every 100 updates overestimated (mean Q above the 1/(1-gamma) = 100
    # bound) and collapsed after reaching ~250; 5e-4 and every 500 updates reached 475 at 95 s.
    ("dqn", "cartpole"): lambda: TrainConfig(
        agent="dqn", env_id="CartPole-v1", network="dueling_mlp", hidden_sizes=(64, 64), target_return=475.0,
        stop_at_target=True, max_seconds=300.0, num_envs_per_actor=16, param_refresh_period_unrolls=1,
        learner=LearnerConfig(batch_size=64, unroll_length=8, discount=0.99, learning_rate=5e-4,
                              optimizer="adam", max_gradient_norm=10.0, entropy_cost=0.0, baseline_cost=0.0),
        dqn=DQNConfig(n_step=3, target_update_period_updates=500, samples_per_insert=4.0, min_replay_size=100,
                      max_replay_size=5_000)),
    # Ape-X DQN on MinAtar (any game with --env MinAtar/<Game>-v1): the MinAtar paper's DQN network (one 3x3 conv,
    # 128 units; Young & Tian 2019) with a dueling head, its 100K-transition replay (6,250 items of 16 envs) and
    # target copy every 1,000 updates, Adam 2.5e-4 as its RMSProp rate; 8 samples per insert where the paper
    # replays 32 (one batch of 32 per frame): on 2 CPU cores the conv learner makes ~300 updates/s, and 32 would
    # hold the actors to ~600 frames/s. The evaluator plays with epsilon 0.001 (a fully greedy Breakout policy
    # can loop forever).
    ("dqn", "minatar"): lambda: TrainConfig(
        agent="dqn", env_id="MinAtar/Breakout-v1", network="dueling_minatar", target_return=None,
        num_envs_per_actor=16, param_refresh_period_unrolls=1,
        learner=LearnerConfig(batch_size=64, unroll_length=8, discount=0.99, learning_rate=2.5e-4,
                              optimizer="adam", max_gradient_norm=10.0, entropy_cost=0.0, baseline_cost=0.0),
        dqn=DQNConfig(n_step=3, target_update_period_updates=1000, samples_per_insert=8.0, min_replay_size=300,
                      max_replay_size=6_250, evaluator_epsilon=0.001)),
    # R2D2 on MinAtar: MinAtar's torso, then a 64-wide LSTM (previous action and reward as inputs) whose first
    # head is read as q-values; the CartPole preset's sequences (4 + 16 + 1 steps every 8), Adam 2.5e-4 as for
    # DQN on MinAtar, the target copied every 500 updates (the conv + LSTM learner makes far fewer updates/s).
    ("r2d2", "minatar"): lambda: TrainConfig(
        agent="r2d2", env_id="MinAtar/Breakout-v1", network="minatar", use_lstm=True, lstm_size=64,
        target_return=None, num_envs_per_actor=16,
        learner=LearnerConfig(batch_size=32, unroll_length=8, discount=0.99, learning_rate=2.5e-4,
                              optimizer="adam", max_gradient_norm=10.0, entropy_cost=0.0, baseline_cost=0.0),
        dqn=DQNConfig(n_step=3, target_update_period_updates=500, importance_sampling_exponent=0.6,
                      samples_per_insert=2.0, min_replay_size=20, max_replay_size=1_000, burn_in_steps=4,
                      trace_length=16, sequence_period_steps=8, max_priority_weight=0.9, evaluator_epsilon=0.001)),
    # R2D2 on CartPole: a 64-wide LSTM (see the IMPALA preset's note on CPU cost), sequences of 4 + 16 + 1 steps.
    ("r2d2", "cartpole"): lambda: TrainConfig(
        agent="r2d2", env_id="CartPole-v1", network="mlp", hidden_sizes=(64,), use_lstm=True, lstm_size=64,
        target_return=475.0, stop_at_target=True, max_seconds=300.0, num_envs_per_actor=16,
        learner=LearnerConfig(batch_size=32, unroll_length=8, discount=0.99, learning_rate=1e-3,
                              optimizer="adam", max_gradient_norm=10.0, entropy_cost=0.0, baseline_cost=0.0),
        dqn=DQNConfig(n_step=3, target_update_period_updates=100, importance_sampling_exponent=0.6,
                      samples_per_insert=2.0, min_replay_size=20, max_replay_size=2_000, burn_in_steps=4,
                      trace_length=16, sequence_period_steps=8, max_priority_weight=0.9)),
}


def preset(name: str, agent: str = "impala") -> TrainConfig:
    """The preset `name` for `agent`: every agent has 'cartpole'; IMPALA also the rest of PRESETS."""
    if (agent, name) in AGENT_PRESETS:
        return AGENT_PRESETS[(agent, name)]()
    if agent == "impala" and name in PRESETS:
        return PRESETS[name]()
    names = sorted([preset_name for agent_name, preset_name in AGENT_PRESETS if agent_name == agent]
                   if agent != "impala" else PRESETS)
    raise ValueError(f"unknown preset {name!r} for agent {agent!r}; choose one of {names}")
