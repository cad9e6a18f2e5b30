"""`TableConfig`: a picklable, JSON-able description of one replay table.

numpy only (no Reverb/TensorFlow import), so a driver process can describe the
tables of a server that runs in another process. `replay.tables.build_table`
turns it into a `reverb.Table`; see that module for the item layout.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from vtrax.replay.specs import FieldSpec, check_step_spec, step_spec_from_json, step_spec_to_json

QUEUE = "queue"
UNIFORM = "uniform"
PRIORITIZED = "prioritized"
TABLE_KINDS = (QUEUE, UNIFORM, PRIORITIZED)

DEFAULT_CHECKPOINT_PERIOD_S = 300.0
"""Seconds between a replay server's periodic checkpoints unless told otherwise."""


@dataclasses.dataclass(frozen=True)
class TableConfig:
    """One Reverb table: its kind, name, item signature and rate limiting."""

    kind: str
    """`queue` (on-policy FIFO, each item sampled once, full queue blocks writers), `uniform` or `prioritized`."""
    name: str
    """Table name that the adder writes to and the dataset reads from."""
    step_spec: Mapping[str, FieldSpec]
    """Per-env fields of one step, e.g. `replay.impala_step_spec(...)`."""
    num_envs: int
    """Environments per slab (the actor's vector size); axis 1 of every item field."""
    unroll_length: int
    """T: new steps per item; items hold T + 1 steps."""
    max_size: int
    """Most items the table holds (queue: writers block beyond it; others: FIFO eviction)."""
    min_size_to_sample: int = 1
    """Off-policy tables: samples block until the table holds this many items."""
    samples_per_insert: float | None = None
    """Off-policy tables: if set, a SampleToInsertRatio limiter keeps this ratio; else MinSize."""
    samples_per_insert_tolerance: float | None = None
    """Allowed deviation (in samples) from the ratio; default max(10 * samples_per_insert, 2 * min_size)."""
    priority_exponent: float = 0.6
    """Prioritised table: sampling probability is proportional to priority ** priority_exponent."""
    max_times_sampled: int = 0
    """Off-policy tables: delete an item after this many samples (0 = never)."""
    item_length: int = 0
    """Steps per item; 0: unroll_length + 1 (overlapping unrolls); 1: single n-step transitions (DQN)."""

    def __post_init__(self):
        if self.kind not in TABLE_KINDS:
            raise ValueError(f"table kind must be one of {TABLE_KINDS}, got {self.kind!r}")
        if not self.name:
            raise ValueError("table name must be a non-empty string, got ''")
        object.__setattr__(self, "step_spec", check_step_spec(self.step_spec))
        for field in ("num_envs", "unroll_length", "max_size", "min_size_to_sample"):
            if int(getattr(self, field)) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)} (table {self.name!r})")
        if self.min_size_to_sample > self.max_size:
            raise ValueError(f"min_size_to_sample ({self.min_size_to_sample}) must be <= max_size "
                             f"({self.max_size}), or sampling from table {self.name!r} would never start")
        if self.samples_per_insert is not None and self.samples_per_insert <= 0:
            raise ValueError(f"samples_per_insert must be > 0 or None, got {self.samples_per_insert}")
        if self.priority_exponent < 0:
            raise ValueError(f"priority_exponent must be >= 0, got {self.priority_exponent}")
        if self.item_length < 0:
            raise ValueError(f"item_length must be >= 0 (0: unroll_length + 1), got {self.item_length}")
        if self.max_times_sampled < 0:
            raise ValueError(f"max_times_sampled must be >= 0, got {self.max_times_sampled}")

    @property
    def sequence_length(self) -> int:
        """Steps per item: item_length, or unroll_length + 1 when item_length is 0."""
        return self.item_length or self.unroll_length + 1

    @property
    def worth_checkpointing(self) -> bool:
        """Whether the items outlive one sampling, so a checkpoint is worth keeping.

        Off-policy tables (uniform, prioritised) hold data the learner samples many
        times; a queue's on-policy unrolls are sampled once and go stale with the
        next parameters, so a restarted queue may start empty.
        """
        return self.kind != QUEUE

    def differences(self, other: "TableConfig") -> dict[str, tuple[Any, Any]]:
        """`{field: (self's value, other's value)}` for each field that differs (step_spec as JSON)."""
        mine, theirs = self.to_json(), other.to_json()
        return {name: (mine[name], theirs[name]) for name in mine if mine[name] != theirs.get(name)}

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (for the server process's command line)."""
        data = dataclasses.asdict(self)
        data["step_spec"] = step_spec_to_json(self.step_spec)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TableConfig":
        """Inverse of `to_json`."""
        return cls(**{**data, "step_spec": step_spec_from_json(data["step_spec"])})
