"""What a run reports, as one typed object, and the renderers that read it.

The driver builds one `RunReport` per report period. Every output renders that
object and nothing else:

    RunReport ──► console block (display.format_block)
              ├─► metrics.jsonl and TensorBoard (run_dir.RunWriter, via `to_dict`)
              ├─► Prometheus, through Ray's metrics API (monitoring.ray_metrics, via `GAUGES`)
              ├─► `vtrax status` (the learner actor keeps `to_dict()`; `from_dict` reads it back)
              └─► summary.json (the final report's figures, `summary_fields`)

A new figure is one new field here, with its unit and meaning in the field's
metadata; a `gauge` name in the metadata also exports it to Prometheus.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple


def _figure(unit: str, meaning: str, *, gauge: str | None = None, default: Any = None) -> Any:
    return dataclasses.field(default=default, metadata={"unit": unit, "meaning": meaning, "gauge": gauge})


def _mapping(meaning: str) -> Any:
    return dataclasses.field(default_factory=dict, metadata={"unit": "", "meaning": meaning, "gauge": None})


@dataclasses.dataclass(frozen=True)
class RunReport:
    """One report period of a run: counters since the run began and rates over the last period."""

    env_id: str = _figure("", "The gymnasium id being trained.", default="")
    wall_seconds: float = _figure("s", "Seconds since the command started (summed over resumed sessions).",
                                  default=0.0)
    env_frames: int = _figure("frames", "Environment frames stepped by all actors since the run began "
                              "(4 per agent step on Atari).", gauge="vtrax_env_frames_total", default=0)
    frames_per_second: float = _figure("frames/s", "Env frames per second over the last report period.",
                                       gauge="vtrax_env_frames_per_second", default=0.0)
    learner_updates: int = _figure("updates", "Learner updates since the run began.",
                                   gauge="vtrax_learner_updates_total", default=0)
    updates_per_second: float = _figure("updates/s", "Learner updates per second over the last period.",
                                        gauge="vtrax_learner_updates_per_second", default=0.0)
    episode_return_mean_last100: float | None = _figure("return", "Mean return of the last 100 finished episodes.",
                                                        gauge="vtrax_episode_return_mean")
    best_episode_return_mean_last100: float | None = _figure("return", "Best mean of 100 episodes so far.")
    return_source: str = _figure("", "Whose episodes the return is: 'evaluator' (off-policy agents' greedy "
                                 "evaluator, writing nothing to replay) or 'actors' (IMPALA).", default="actors")
    actor_episode_return_mean_last100: float | None = _figure(
        "return", "Mean return of the acting (exploring) actors' last 100 episodes, beside the evaluator's.")
    episodes: int = _figure("episodes", "Episodes finished since the run began.", default=0)
    episode_length_mean_last100: float | None = _figure("steps", "Mean length of the last 100 episodes.")
    num_actors: int = _figure("actors", "Actor processes alive.", default=0)
    actor_restarts: int = _figure("restarts", "Actor processes restarted by Ray.", gauge="vtrax_actor_restarts_total",
                                  default=0)
    nodes_lost: int = _figure("nodes", "Ray nodes that died during the run (their actors restart when a node has "
                              "a free CPU).", gauge="vtrax_nodes_lost_total", default=0)
    env_errors: int = _figure("errors", "Environments that raised and were rebuilt.", gauge="vtrax_env_errors_total",
                              default=0)
    learner_restarts: int = _figure("restarts", "Learner processes restarted (each restores the newest checkpoint).",
                                    gauge="vtrax_learner_restarts_total", default=0)
    replay_restarts: int = _figure("restarts", "Replay servers restarted by the driver.",
                                   gauge="vtrax_replay_restarts_total", default=0)
    replay_items_restored: int | None = _figure(
        "items", "Items the replay table held when its server last started from a replay checkpoint (--resume or a "
        "restart; 0: none there yet); None: the table is not checkpointed (IMPALA's queue).")
    replay_items_lost: int = _figure("items", "Items inserted after the newest replay checkpoint and lost when the "
                                     "server died (at least: counted up to the last report before each restart).",
                                     gauge="vtrax_replay_items_lost_total", default=0)
    policy_lag: float | None = _figure("versions", "Mean parameter versions between acting and learning.",
                                       gauge="vtrax_policy_lag")
    param_version: int = _figure("versions", "The newest parameter version the learner published.", default=0)
    replay_queue_size: int | None = _figure("items", "Items waiting in the replay queue.",
                                            gauge="vtrax_replay_queue_size")
    replay_inserts: int | None = _figure("items", "Items inserted into the replay table.",
                                         gauge="vtrax_replay_inserts_total")
    replay_samples: int | None = _figure("items", "Items sampled from the replay table.",
                                         gauge="vtrax_replay_samples_total")
    learner_step_s: float = _figure("s", "Learner compute time per update.", gauge="vtrax_learner_step_seconds",
                                    default=0.0)
    learner_wait_s: float = _figure("s", "Learner time per update spent waiting for a batch.",
                                    gauge="vtrax_learner_wait_seconds", default=0.0)
    learner_wait_fraction: float = _figure("1", "Share of the learner's time spent waiting for data.", default=0.0)
    grad_norm: float | None = _figure("1", "Global gradient norm before clipping.", gauge="vtrax_grad_norm")
    actor_ms_per_step: dict[str, float] = _mapping("Milliseconds per vector step in each actor stage "
                                                   "(env, inference, adder, params), mean over actors.")
    loss: dict[str, float] = _mapping("Loss terms of the last updates, by term (total, pg, baseline, entropy).")
    learner_metrics: dict[str, float] = _mapping("Every scalar the learner reported, by name.")
    learner_error: str | None = _figure("", "The learner's traceback, if its loop died.")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (metrics.jsonl, TensorBoard, `vtrax status`)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunReport:
        """The report back from `to_dict` output; unknown keys (e.g. `reported_at`) are ignored."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})


class Gauge(NamedTuple):
    """A Prometheus gauge that renders one report field (Ray adds the `ray_` prefix)."""

    name: str
    unit: str
    meaning: str
    field: str


GAUGES: tuple[Gauge, ...] = tuple(
    Gauge(field.metadata["gauge"], field.metadata["unit"], field.metadata["meaning"], field.name)
    for field in dataclasses.fields(RunReport) if field.metadata.get("gauge"))
LOSS_GAUGE = Gauge("vtrax_loss", "1", "Loss terms of the last updates, by `term` (total, pg, baseline, entropy).",
                   "loss")

SUMMARY_FIELDS = ("env_id", "env_frames", "learner_updates", "episode_return_mean_last100", "return_source",
                  "actor_episode_return_mean_last100", "episodes",
                  "actor_restarts", "nodes_lost", "env_errors", "learner_restarts", "replay_restarts",
                  "replay_items_restored",
                  "replay_items_lost")
"""The final report's fields that summary.json repeats (beside the run's own totals)."""


def summary_fields(report: RunReport) -> dict[str, Any]:
    """The part of summary.json that the last report supplies."""
    values = report.to_dict()
    return {name: values[name] for name in SUMMARY_FIELDS}
