"""`DQNConfig`: the knobs of the DQN family (Ape-X), frozen and validated.

The optimiser, batch size and discount stay in `LearnerConfig`; these fields
steer what only Q-learning agents have: n-step transitions, the prioritised
table and its rate limiter, the target network, importance weights and the
Ape-X epsilon ladder. Every field is a `vtrax train --flag`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vtrax.learner.config import from_known_fields



@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """Ape-X DQN hyperparameters (Horgan et al. 2018, https://arxiv.org/abs/1803.00933) and R2D2's
    sequence fields (Kapturowski et al. 2019, https://openreview.net/forum?id=r1lyTjAqYX)."""

    n_step: int = 3
    """Steps summed into one transition's return before bootstrapping from the target network."""
    target_update_period_updates: int = 100
    """Copy the online parameters into the target network every this many updates."""
    importance_sampling_exponent: float = 0.4
    """Beta: importance weights (N * P(i)) ** -beta, normalised by their batch maximum (0: no correction)."""
    priority_exponent: float = 0.6
    """Alpha: items are sampled with probability proportional to priority ** alpha (0: uniform)."""
    samples_per_insert: float = 8.0
    """Transitions learnt from per transition inserted (SampleToInsertRatio); actors or learner block to keep it."""
    samples_per_insert_tolerance: float | None = None
    """Allowed deviation from the ratio, in samples (None: max(10 * ratio, 2 * min_replay_size) items' worth)."""
    min_replay_size: int = 100
    """Items (slabs of num_envs_per_actor transitions) in the table before the learner may sample."""
    max_replay_size: int = 10_000
    """Items the prioritised table holds; the oldest are removed first (FIFO remover)."""
    initial_priority: float = 1.0
    """Priority of newly inserted items (the learner then writes |TD error|)."""
    epsilon: float = 0.4
    """Ape-X ladder base: env i of N explores with epsilon ** (1 + epsilon_alpha * i / (N - 1))."""
    epsilon_alpha: float = 7.0
    """Ape-X ladder spread (see epsilon)."""
    evaluator_epsilon: float = 0.0
    """Exploration of the evaluator, whose greedy returns are the run's return (0: greedy)."""
    evaluator_num_envs: int = 4
    """Environments the evaluator steps; it writes nothing to replay."""
    huber_delta: float = 1.0
    """TD errors beyond this are penalised linearly (Huber loss)."""
    write_priorities: bool = True
    """Write |TD error| back as the sampled items' priorities (off: priorities stay as inserted)."""
    burn_in_steps: int = 8
    """R2D2: steps at a sequence's start that only warm up the LSTM state from the stored one (no loss)."""
    trace_length: int = 20
    """R2D2: steps after the burn-in that the loss learns from (items hold burn_in + trace_length + 1 steps)."""
    sequence_period_steps: int = 10
    """R2D2: a new (overlapping) sequence starts every this many steps."""
    max_priority_weight: float = 0.9
    """R2D2: eta, a sequence's priority is eta * max|delta| + (1 - eta) * mean|delta|."""

    def __post_init__(self) -> None:
        for name in ("n_step", "target_update_period_updates", "min_replay_size", "max_replay_size",
                     "evaluator_num_envs", "trace_length", "sequence_period_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        for name in ("importance_sampling_exponent", "priority_exponent", "epsilon", "evaluator_epsilon",
                     "max_priority_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}; pass e.g. "
                                 f"--{name.replace('_', '-')} 0.5")
        for name in ("samples_per_insert", "initial_priority", "huber_delta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not isinstance(self.burn_in_steps, int) or self.burn_in_steps < 0:
            raise ValueError(f"burn_in_steps must be an int >= 0, got {self.burn_in_steps!r}")
        if self.epsilon_alpha < 0:
            raise ValueError(f"epsilon_alpha must be >= 0, got {self.epsilon_alpha!r}")
        if self.min_replay_size > self.max_replay_size:
            raise ValueError(f"min_replay_size ({self.min_replay_size}) must be <= max_replay_size "
                             f"({self.max_replay_size}), or the learner would never sample; lower "
                             "--min-replay-size or raise --max-replay-size")
        if self.samples_per_insert_tolerance is not None and self.samples_per_insert_tolerance <= 0:
            raise ValueError(f"samples_per_insert_tolerance must be > 0 or None, got "
                             f"{self.samples_per_insert_tolerance!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DQNConfig":
        return from_known_fields(cls, values)
