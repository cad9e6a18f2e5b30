"""Run metrics exported through Ray's metrics API (served by Ray in Prometheus format).

Every name here is documented in the README's metrics table; the Grafana dashboard
queries them with Ray's `ray_` prefix (e.g. `ray_vtrax_env_frames_per_second`).
"""

from __future__ import annotations

from typing import Any

# name -> (unit, meaning, report key); the report is the driver's dict.
GAUGES: dict[str, tuple[str, str, str]] = {
    "vtrax_env_frames_total": ("frames", "Environment frames stepped by all actors since the run began "
                               "(4 per agent step on Atari).", "env_frames"),
    "vtrax_env_frames_per_second": ("frames/s", "Env frames per second over the last report period.", "frames_per_second"),
    "vtrax_learner_updates_total": ("updates", "Learner updates since the run began.", "learner_updates"),
    "vtrax_learner_updates_per_second": ("updates/s", "Learner updates per second over the last period.", "updates_per_second"),
    "vtrax_episode_return_mean": ("return", "Mean return of the last 100 finished episodes.", "episode_return_mean_last100"),
    "vtrax_policy_lag": ("versions", "Mean parameter versions between acting and learning.", "policy_lag"),
    "vtrax_replay_queue_size": ("items", "Items waiting in the replay queue.", "replay_queue_size"),
    "vtrax_replay_inserts_total": ("items", "Items inserted into the replay table.", "replay_inserts"),
    "vtrax_replay_samples_total": ("items", "Items sampled from the replay table.", "replay_samples"),
    "vtrax_learner_step_seconds": ("s", "Learner compute time per update.", "learner_step_s"),
    "vtrax_learner_wait_seconds": ("s", "Learner time per update spent waiting for a batch.", "learner_wait_s"),
    "vtrax_grad_norm": ("1", "Global gradient norm before clipping.", "grad_norm"),
    "vtrax_actor_restarts_total": ("restarts", "Actor processes restarted by Ray.", "actor_restarts"),
    "vtrax_env_errors_total": ("errors", "Environments that raised and were rebuilt.", "env_errors"),
}
LOSS_GAUGE = ("vtrax_loss", "1", "Loss terms of the last updates, by `term` (total, pg, baseline, entropy).")


class RayMetrics:
    """Ray `Gauge`s set from each driver report."""

    def __init__(self):
        from ray.util.metrics import Gauge

        self._gauges = {name: Gauge(name, description=f"{meaning} [{unit}]") for name, (unit, meaning, _) in GAUGES.items()}
        self._loss = Gauge(LOSS_GAUGE[0], description=f"{LOSS_GAUGE[2]} [{LOSS_GAUGE[1]}]", tag_keys=("term",))

    def record(self, report: dict[str, Any]) -> None:
        for name, (_, _, key) in GAUGES.items():
            value = report.get(key)
            if isinstance(value, (int, float)):
                self._gauges[name].set(float(value))
        for term, value in report.get("loss", {}).items():
            if isinstance(value, (int, float)):
                self._loss.set(float(value), tags={"term": term})
