"""The live console display: one block refreshed in place on a terminal, a line otherwise."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from vtrax.deploy.runtime.report import RunReport


def format_block(report: RunReport) -> list[str]:
    """The lines of one refresh, from a run report."""
    queue = "n/a" if report.replay_queue_size is None else report.replay_queue_size
    return [
        f"vtrax train  {report.env_id}  t={report.wall_seconds:7.1f}s  actors={report.num_actors}"
        f" (restarts {report.actor_restarts}, env errors {report.env_errors})",
        f"  env frames   {report.env_frames:>12,}   {report.frames_per_second:>10,.0f} frames/s",
        f"  learner      {report.learner_updates:>12,} updates {report.updates_per_second:>8,.1f} updates/s"
        f"   wait {report.learner_wait_fraction:4.0%}",
        f"  return       {_num(report.episode_return_mean_last100)} mean last 100 ({report.return_source})"
        f"   best {_num(report.best_episode_return_mean_last100)}   episodes {report.episodes:,}"
        + ("" if report.return_source == "actors"
           else f"   acting actors {_num(report.actor_episode_return_mean_last100)}"),
        f"  policy lag   {_num(report.policy_lag)} versions   replay queue {queue}",
        "  actors       ms/step " + "  ".join(f"{k} {v:.3f}" for k, v in report.actor_ms_per_step.items())
        + f"   episode length {_num(report.episode_length_mean_last100)}",
        "  loss         " + "  ".join(f"{k} {_num(v)}" for k, v in report.loss.items()),
        *_q_learning_line(report),
    ]


def _q_learning_line(report: RunReport) -> list[str]:
    """Replay and Q statistics of off-policy agents (nothing for IMPALA)."""
    metrics = report.learner_metrics
    if "q_mean" not in metrics:
        return []
    ratio = (report.replay_samples / report.replay_inserts) if report.replay_inserts and report.replay_samples else None
    return [f"  q-learning   q {_num(metrics.get('q_mean'))}   |td| {_num(metrics.get('td_error_abs_mean'))}"
            f"   priority max {_num(metrics.get('priority_max'))}   samples/insert {_num(ratio)}"
            f"   target age {metrics.get('target_age_updates', 0):.0f} updates"]


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:8.2f}"


class Display:
    """Redraws the block in place when `stream` is a terminal; otherwise prints one line a period."""

    def __init__(self, stream: TextIO = sys.stdout, *, quiet: bool = False):
        self._stream, self._quiet = stream, quiet
        self._tty = stream.isatty()
        self._drawn = 0

    def show(self, report: RunReport) -> None:
        if self._quiet:
            return
        lines = format_block(report)
        if self._tty:
            if self._drawn:
                self._stream.write(f"\x1b[{self._drawn}F")
            self._stream.write("".join(f"\x1b[2K{line}\n" for line in lines))
            self._drawn = len(lines)
        else:
            self._stream.write(" | ".join(line.strip() for line in lines[1:5]) + "\n")
        self._stream.flush()

    def message(self, text: str) -> None:
        """A line that stays (start-up steps, the final summary)."""
        if not self._quiet:
            self._stream.write(text + "\n")
            self._stream.flush()
            self._drawn = 0
