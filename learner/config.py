"""`LearnerConfig`: every hyperparameter of the IMPALA learner, frozen and validated.

Two presets:

- `atari_config()`: the single-task Atari values of Espeholt et al. 2018,
  "IMPALA: Scalable Distributed Deep-RL with Importance Weighted Actor-Learner
  Architectures" (https://arxiv.org/abs/1802.01561), Table G.1: batch 32,
  unroll 20, discount 0.99, RMSProp (lr 6e-4, decay 0.99, eps 0.01, momentum 0),
  global-norm clip 40, baseline cost 0.5, entropy cost 0.01, rewards clipped to
  [-1, 1], learning rate annealed linearly to zero over 200M frames. The
  published implementation sums the losses over time and batch (and puts
  RMSProp's epsilon inside the square root, TF1 style); the preset does the same
  so those numbers mean what they meant there.
- `cartpole_config()`: tuned for speed and robustness to actor lag on
  CartPole-v1 (see `cartpole_config`).
- `minatar_config()`: MinAtar's five games (see `minatar_config`).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from typing import Any

OPTIMIZERS = ("rmsprop", "adam")
REWARD_CLIPPINGS = ("none", "abs_one", "soft_asymmetric")
BASELINES = ("vtrace", "td_lambda")
LOSS_REDUCTIONS = ("mean", "sum")

# Fields that only steer the loop (how often to publish/save, when to give up):
# a checkpoint written under other values of these may be resumed.
OPERATIONAL_FIELDS = (
    "publish_period_updates",
    "checkpoint_period_s",
    "keep_checkpoints",
    "max_consecutive_nonfinite",
    "total_updates",
)


@dataclasses.dataclass(frozen=True)
class LearnerConfig:
    """Hyperparameters of the IMPALA learner (loss, optimiser and loop)."""

    batch_size: int = 32
    """Trajectories per update, summed over all devices."""
    unroll_length: int = 20
    """Time steps T learnt from per trajectory (items hold T + 1 steps)."""
    discount: float = 0.99
    """Gamma, multiplied into the batch's per-step discount (0 at terminations)."""
    learning_rate: float = 3e-3
    """Initial optimiser step size."""
    optimizer: str = "rmsprop"
    """'rmsprop' (IMPALA's) or 'adam'."""
    rmsprop_decay: float = 0.99
    """RMSProp moving-average decay of squared gradients."""
    rmsprop_eps: float = 0.01
    """RMSProp epsilon, added inside the square root (TF1 convention)."""
    rmsprop_momentum: float = 0.0
    """RMSProp momentum; 0 disables it."""
    rmsprop_initial_scale: float = 1.0
    """Initial RMSProp second-moment estimate (TF1's RMSPropOptimizer starts at 1)."""
    adam_eps: float = 1e-8
    """Adam epsilon."""
    max_gradient_norm: float | None = 40.0
    """Clip the global gradient norm to this; None disables clipping."""
    lr_decay: bool = False
    """Decay the learning rate linearly to zero over `total_updates`."""
    total_updates: int | None = None
    """Updates in the whole run; required when `lr_decay` is on."""
    entropy_cost: float = 0.01
    """Weight of the entropy bonus."""
    baseline_cost: float = 0.5
    """Weight of the baseline loss 0.5 * error**2."""
    clip_rho_threshold: float = 1.0
    """V-trace rho-bar: clip of importance weights in the value targets."""
    clip_pg_rho_threshold: float = 1.0
    """Clip of importance weights in the policy-gradient advantages."""
    lambda_: float = 1.0
    """Mixing of multi-step targets: V-trace's c-bar scale, or TD(lambda)'s lambda."""
    reward_clipping: str = "none"
    """'none', 'abs_one' (clip to [-1, 1]) or 'soft_asymmetric' (IMPALA DMLab's tanh)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this after clipping (keeps value targets near unit size; 1: unscaled)."""
    baseline: str = "vtrace"
    """Value targets: 'vtrace' (off-policy corrected) or 'td_lambda' (uncorrected)."""
    loss_reduction: str = "mean"
    """'mean' over batch and time, or 'sum' (the published IMPALA code's)."""
    publish_period_updates: int = 1
    """Publish parameters to the actors every this many updates."""
    checkpoint_period_s: float = 30.0
    """Seconds between checkpoints (when the learner has a logdir); a learner crash loses at most this much."""
    keep_checkpoints: int = 3
    """How many most recent checkpoints to keep on disk."""
    max_consecutive_nonfinite: int = 10
    """Stop training after this many skipped (non-finite) updates in a row."""
    seed: int = 0
    """Seed for parameter initialisation and the learner's RNG."""

    def __post_init__(self) -> None:
        _check_positive_ints(self, ("batch_size", "unroll_length", "publish_period_updates",
                                    "keep_checkpoints", "max_consecutive_nonfinite"))
        _check_choice(self, "optimizer", OPTIMIZERS)
        _check_choice(self, "reward_clipping", REWARD_CLIPPINGS)
        _check_choice(self, "baseline", BASELINES)
        _check_choice(self, "loss_reduction", LOSS_REDUCTIONS)
        _check_range(self, "discount", 0.0, 1.0)
        _check_range(self, "lambda_", 0.0, 1.0)
        _check_range(self, "rmsprop_decay", 0.0, 1.0)
        _check_range(self, "rmsprop_momentum", 0.0, 1.0)
        for name in ("learning_rate", "reward_scale", "clip_rho_threshold", "clip_pg_rho_threshold",
                     "checkpoint_period_s", "rmsprop_eps", "adam_eps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("entropy_cost", "baseline_cost", "rmsprop_initial_scale"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.max_gradient_norm is not None and not self.max_gradient_norm > 0:
            raise ValueError(
                f"max_gradient_norm must be > 0 (or None to disable clipping), got {self.max_gradient_norm!r}")
        if self.total_updates is not None and (not isinstance(self.total_updates, int) or self.total_updates < 1):
            raise ValueError(f"total_updates must be an int >= 1 or None, got {self.total_updates!r}")
        if self.lr_decay and self.total_updates is None:
            raise ValueError("lr_decay=True needs total_updates (the number of updates to decay over); "
                             "set total_updates or lr_decay=False")
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of the fields (for checkpoints and logs)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "LearnerConfig":
        """Inverse of `to_dict`; unknown keys are an error naming them."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown LearnerConfig fields {unknown}; known fields are {sorted(known)}")
        return cls(**values)


def field_help() -> dict[str, str]:
    """`{field name: its one-line docstring}` of `LearnerConfig`, e.g. for command-line help."""
    body = ast.parse(textwrap.dedent(inspect.getsource(LearnerConfig))).body[0].body
    return {node.target.id: doc.value.value.strip() for node, doc in zip(body, body[1:])
            if isinstance(node, ast.AnnAssign) and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)}


def frames_per_update(config: LearnerConfig) -> int:
    """Agent steps consumed by one update: batch_size * unroll_length."""
    return config.batch_size * config.unroll_length


def cartpole_config(**overrides: Any) -> LearnerConfig:
    """Fast, lag-tolerant CartPole-v1 values (for `make_network("mlp", 2)`).

    RMSProp at 3e-3 (IMPALA's optimiser: decay 0.99, eps 0.01, no momentum)
    with mean-reduced losses and the default separate policy/value MLPs solved
    CartPole-v1 (mean return >= 475) in 350K-400K frames with actors 0, 2 or 8
    parameter versions behind, and stayed solved. Adam at 1e-3..3e-3 learnt as
    fast on-policy but, its momentum acting on stale data, collapsed to a
    one-action policy in most runs once actors lagged by 2-4 versions
    (measurements in BENCHMARKS.md, learner section).
    """
    values: dict[str, Any] = dict(
        batch_size=32, unroll_length=20, discount=0.99, learning_rate=3e-3, optimizer="rmsprop",
        rmsprop_decay=0.99, rmsprop_eps=0.01, rmsprop_momentum=0.0, rmsprop_initial_scale=1.0,
        max_gradient_norm=40.0, entropy_cost=0.01, baseline_cost=0.5, lambda_=1.0,
        reward_clipping="none", baseline="vtrace", loss_reduction="mean",
        publish_period_updates=1, checkpoint_period_s=30.0)
    values.update(overrides)
    return LearnerConfig(**values)


# 200M environment frames with action repeat 4 = 50M agent steps, 640 per update.
ATARI_TOTAL_UPDATES = 200_000_000 // 4 // (32 * 20)


def atari_config(**overrides: Any) -> LearnerConfig:
    """IMPALA's published single-task Atari hyperparameters (Table G.1)."""
    values: dict[str, Any] = dict(
        batch_size=32, unroll_length=20, discount=0.99, learning_rate=6e-4, optimizer="rmsprop",
        rmsprop_decay=0.99, rmsprop_eps=0.01, rmsprop_momentum=0.0, rmsprop_initial_scale=1.0,
        max_gradient_norm=40.0, lr_decay=True, total_updates=ATARI_TOTAL_UPDATES,
        entropy_cost=0.01, baseline_cost=0.5, clip_rho_threshold=1.0, clip_pg_rho_threshold=1.0,
        lambda_=1.0, reward_clipping="abs_one", baseline="vtrace", loss_reduction="sum",
        publish_period_updates=1, checkpoint_period_s=30.0)
    values.update(overrides)
    return LearnerConfig(**values)


def minatar_config(**overrides: Any) -> LearnerConfig:
    """MinAtar values (for `make_network("minatar", A)`), chosen for short runs on a few CPU cores.

    - Adam at 5e-4 (the step size most MinAtar agents use, e.g. PPO's): on
      Breakout, 90 s runs (one seed each, 2 shared cores, 2026-12-02) reached a
      mean return of 4.7 after 1.1M frames with it, while RMSProp stayed near
      the random policy's 0.5 (lr 1e-3, eps 0.01: 1.3M frames; lr 5e-4, eps 1e-5:
      0.6M frames). With the preset's short queue actors lag ~3 versions, where
      Adam stays stable here (CartPole's collapse needed longer lags).
    - Rewards unclipped: MinAtar's rewards are already 0 or 1 per event (as the
      paper trains them), so returns and targets stay the game's score.
    - Batch 32 x unroll 20, discount 0.99, entropy 0.01, baseline 0.5, mean
      reduction: IMPALA's Atari values with CartPole's loss reduction.
    - No learning-rate decay: runs are stopped by time or frames, not a schedule.
    """
    values: dict[str, Any] = dict(
        batch_size=32, unroll_length=20, discount=0.99, learning_rate=5e-4, optimizer="adam", adam_eps=1e-8,
        max_gradient_norm=40.0, entropy_cost=0.01, baseline_cost=0.5, lambda_=1.0,
        reward_clipping="none", baseline="vtrace", loss_reduction="mean",
        publish_period_updates=1, checkpoint_period_s=30.0)
    values.update(overrides)
    return LearnerConfig(**values)


def _check_positive_ints(config: LearnerConfig, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def _check_choice(config: LearnerConfig, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(config, name)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _check_range(config: LearnerConfig, name: str, low: float, high: float) -> None:
    value = getattr(config, name)
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
