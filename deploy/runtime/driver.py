"""`vtrax train`'s driver: start the roles through a launcher, report, stop cleanly.

    driver ──► launcher.start: the Reverb server (and Ray, for the Ray launcher)
       ├────► launcher.start_learner: LearnerWorker ── ReplayDataset ◄─ Reverb
       └────► launcher.start_actors: ActorWorker × N ── SequenceAdder ─► Reverb

The launcher decides where roles run: `RayLauncher` (launch_ray.py, one Ray
process per role, the default) or `LocalLauncher` (launch_local.py, all in this
process). The driver only calls the launcher, so both run the same role code.

The driver polls every `report_period_s`: it aggregates actor stats (restarts are
detected by a changed pid), learner metrics and replay info into one `RunReport`
(deploy/runtime/report.py) that the console, metrics.jsonl, TensorBoard, Ray's
metrics, `vtrax status` and summary.json render. Whatever ends the run (limits,
target, Ctrl-C/SIGTERM, an error), `finally` stops the actors, saves the learner's
final checkpoint, stops Reverb (and Ray), and writes summary.json.
"""

from __future__ import annotations

import collections
import dataclasses
import signal
import threading
import time
from pathlib import Path
from typing import Any

from vtrax.deploy.agents import get_agent
from vtrax.deploy.config import LAUNCHERS, TrainConfig, check_fits
from vtrax.deploy.runtime.display import Display
from vtrax.deploy.runtime import manifest, replay_checkpoints
from vtrax.deploy.runtime.errors import ROLE_DIED, StartupTimeout, TrainingError
from vtrax.deploy.runtime.report import RunReport, summary_fields
from vtrax.deploy.runtime.run_dir import RunWriter, read_json, write_json_atomic
from vtrax.deploy.runtime.supervision import LearnerBook, Watchdog

__all__ = ["FAILED_STOPS", "LAUNCHERS", "Driver", "TrainingError", "install_signal_handlers", "make_launcher"]

FAILED_STOPS = ("error", "learner error", "learner lost", "all actors died", "stalled")
"""`stopped_because` values (their first words) of a run that stopped without finishing: exit code 1."""

def make_launcher(name: str):
    """The launcher named by `--launcher`; each module loads only when chosen (Ray's import costs ~1 s)."""
    if name == "ray":
        from vtrax.deploy.runtime.launch_ray import RayLauncher

        return RayLauncher()
    if name == "local":
        from vtrax.deploy.runtime.launch_local import LocalLauncher

        return LocalLauncher()
    raise ValueError(f"launcher must be one of {LAUNCHERS}, got {name!r}")


def replay_table(spec, config: TrainConfig):
    """The Reverb table of a run, as the agent defines it (IMPALA: a FIFO queue of unrolls)."""
    return get_agent(config.agent).replay_table(config, spec)


ACTOR_STAGES = ("env", "inference", "adder", "params")  # actors.Actor.seconds


def _actor_counters(stats: dict[str, Any]) -> dict[str, float]:
    counters = {"env_frames": stats["env_frames"], "env_errors": stats["env_errors"], "unrolls": stats["unrolls"]}
    counters.update({f"seconds_{stage}": stats["seconds"].get(stage, 0.0) for stage in ACTOR_STAGES})
    return counters


class _ActorBook:
    """Per-actor counters across restarts: a changed pid means Ray restarted it."""

    def __init__(self):
        self.pid: int | None = None
        self.restarts = 0
        self.version = 0
        self.dead = False
        self.failed_polls = 0
        self.answered_at: float | None = None
        self._before_restarts: dict[str, float] = collections.Counter()
        self._last: dict[str, float] = collections.Counter()

    def update(self, stats: dict[str, Any], now: float | None = None) -> int | None:
        """Record one stats answer; returns the old pid when the actor was restarted."""
        restarted_from = None
        if self.pid is not None and stats["pid"] != self.pid:
            self.restarts += 1
            self._before_restarts.update(self._last)
            restarted_from = self.pid
        self.pid, self.answered_at = stats["pid"], time.monotonic() if now is None else now
        self._last = collections.Counter(_actor_counters(stats))
        self.version = stats["param_version"]
        return restarted_from

    def alive(self, now: float, silence_s: float) -> bool:
        """Answered within `silence_s` (an actor whose node is gone does not answer until Ray restarts it)."""
        return not self.dead and self.answered_at is not None and now - self.answered_at < silence_s

    def total(self, name: str) -> float:
        return self._before_restarts[name] + self._last[name]

    @property
    def frames(self) -> int:
        return int(self.total("env_frames"))

    @property
    def errors(self) -> int:
        return int(self.total("env_errors"))


class Driver:
    """Owns the processes of one run and its counters; `run()` returns the summary."""

    def __init__(self, config: TrainConfig, run_dir: Path, *, resume: bool, start_time: float, display: Display,
                 start_epoch: float | None = None):
        self.config, self.run_dir, self.resume = config, Path(run_dir), resume
        self.launcher = make_launcher(config.launcher)
        self.start_time, self.display = start_time, display
        self.start_epoch = start_epoch if start_epoch is not None else time.time()
        self.stop_event = threading.Event()
        self.stopped_because = "unknown"
        progress = read_json(self.run_dir / "progress.json") if resume and (self.run_dir / "progress.json").exists() else {}
        self.resumed = manifest.read(self.run_dir) if resume else None  # train.py refused an unreadable one
        self.base = manifest.resume_counters(progress, self.resumed)  # what the counters continue from
        self.frames_offset, self.wall_offset, self.episodes = (self.base.env_frames, self.base.wall_seconds,
                                                               self.base.episodes)
        self._manifest_checkpoint: str | None = None  # the learner checkpoint manifest.json names
        self.agent = get_agent(config.agent)
        # With an evaluator (off-policy agents) `returns` are its episodes and the acting actors' go to
        # `actor_returns`; without one (IMPALA) the acting actors' are the run's returns.
        self.returns = collections.deque(progress.get("last_returns", []), maxlen=100)
        self.actor_returns = collections.deque(progress.get("last_actor_returns", []), maxlen=100)
        self.lengths = collections.deque(progress.get("last_lengths", []), maxlen=100)
        self._actor_totals: dict[str, float] = {}
        self.best_mean = progress.get("best_episode_return_mean_last100")
        self.seconds_to_target = progress.get("seconds_to_target")
        self.frames_to_target = progress.get("frames_to_target")
        self.books: list[_ActorBook] = []
        self.learner_book = LearnerBook()
        self.watchdog = Watchdog(config.stall_timeout_s)
        self.last_report = RunReport(env_id=config.env_id, env_frames=self.frames_offset,
                                     learner_updates=self.base.learner_updates)
        self.spec = None  # the environment's EnvSpec, known once start() has looked it up
        self.replay_address: str | None = None
        self.loop_start: float | None = None
        self.loop_end: float | None = None

    # ---- start-up -------------------------------------------------------------------------
    def start(self) -> None:
        """Reverb (and Ray), then the learner; actors start while the learner compiles."""
        from vtrax.actors.environments import env_spec

        self.spec = env_spec(self.config.env_id)
        try:
            self.agent.check(self.config, self.spec)  # first: it names the agent's own fix
            check_fits(self.config, self.spec.observation_shape, self.spec)
        except ValueError as error:
            raise TrainingError(str(error)) from None
        self.replay_address = self._start_replay(replay_table(self.spec, self.config))
        if threading.current_thread() is threading.main_thread():
            install_signal_handlers(self)  # NOTE: ray.init replaced our SIGTERM handler with sys.exit
        self.display.message(f"{self.launcher.name} launcher and replay up ({time.monotonic() - self.start_time:.1f}s)")
        named = None
        if self.resumed:  # NOTE: before the learner's checkpoint writer lists the folder
            moved = manifest.set_aside_newer(self.run_dir, self.resumed)
            if moved:
                self.display.message(moved)
            named = manifest.LearnerResume(self.resumed.learner_path(self.run_dir), self.start_epoch)
        self.launcher.start_learner(self.config, self.spec, self.replay_address, str(self.run_dir), self.resume,
                                    named=named)
        num_actors = self.launcher.start_actors(self.config, self.spec, self.replay_address)
        # NOTE: the launcher starts the agent's evaluator (if any) after the acting actors, at index num_actors.
        self.books = [_ActorBook() for _ in range(num_actors + int(self.agent.has_evaluator))]
        self.launcher.wait_learner(timeout_s=self._seconds_left(default=600.0))
        evaluator = (f" + an evaluator x {self.agent.evaluator_num_envs(self.config)} envs"
                     if self.agent.has_evaluator else "")
        self.display.message(f"{self.config.agent}: {num_actors} actors x {self.config.num_envs_per_actor} envs"
                             f"{evaluator} started ({time.monotonic() - self.start_time:.1f}s); training")

    def _start_replay(self, table) -> str:
        """The launcher's Reverb server, checkpointed in the run directory when the table is worth keeping."""
        problem = replay_checkpoints.layout_problem(self.run_dir, table)
        if problem:
            raise TrainingError(f"cannot resume {self.run_dir}: {problem}")
        moved = manifest.set_aside_newer_replay(self.run_dir, self.resumed) if self.resumed else None
        if moved:
            self.display.message(moved)
        plan = replay_checkpoints.checkpointing(self.run_dir, table, self.config)
        if plan.directory:
            replay_checkpoints.record_layout(self.run_dir, table)
        address = self.launcher.start(self.config, table, plan)
        restore = self.launcher.replay_restore
        if self.resume or (restore and restore.checkpoint):
            message = replay_checkpoints.restored_message(restore, plan)
            if message:
                self.display.message(message)
        mismatch = manifest.replay_restore_message(self.resumed, self.run_dir, restore and restore.checkpoint)
        if mismatch and plan.directory:
            self.display.message(mismatch)
        return address

    def _seconds_left(self, default: float) -> float:
        """What --max-seconds leaves of the run (it covers start-up too)."""
        if not self.config.max_seconds:
            return default
        return max(self.config.max_seconds - (time.monotonic() - self.start_time), 1.0)

    # ---- the loop ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        writer = RunWriter(self.run_dir)
        try:
            self.start()
            self._loop(writer)
        except KeyboardInterrupt:
            self.stopped_because = "interrupted"
        except StartupTimeout as timeout:
            self.display.message(f"stopped during start-up: {timeout}")
            self.stopped_because = "max_seconds"
        except TrainingError:
            self.stopped_because = "error"
            raise
        finally:
            checkpoint = self.shutdown()
            writer.close()
            if checkpoint:  # the final checkpoint is the learner's last word: counters agree with it
                self.last_report = dataclasses.replace(self.last_report,
                                                       learner_updates=manifest.learner_step(checkpoint))
                write_json_atomic(self.run_dir / "progress.json", self._progress(self.last_report))
            summary = self.summary(checkpoint)
            write_json_atomic(self.run_dir / "summary.json", summary)
            self._record_manifest(checkpoint, final=True)
        return summary

    def _loop(self, writer: RunWriter) -> None:
        metrics = self.launcher.metrics()
        self.loop_start = time.monotonic()
        previous = (self.loop_start, self.last_report.env_frames, self.last_report.learner_updates)
        while not self.stop_event.wait(self.config.report_period_s):
            report = self._report(previous)
            previous = (time.monotonic(), report.env_frames, report.learner_updates)
            writer.write(report.to_dict())
            metrics.record(report)
            self.launcher.publish_report(dataclasses.replace(report, learner_metrics={}).to_dict())
            self.display.show(report)
            write_json_atomic(self.run_dir / "progress.json", self._progress(report))
            self._record_manifest()
            reason = self._should_stop(report)
            if reason:
                self.stopped_because = reason
                break
        self.loop_end = time.monotonic()

    def _report(self, previous: tuple[float, int, int]) -> RunReport:
        learner = self._poll_learner()
        self._poll_actors()
        replay_event = self.launcher.supervise_replay(self.last_report.replay_inserts)
        if replay_event:
            self.display.message(replay_event)
        for node in self.launcher.lost_nodes():
            self.display.message(f"lost Ray node {node}: the actors there went with it; training goes on with "
                                 "the actors on the nodes that remain, and Ray restarts the lost ones as soon as a "
                                 "node with a free CPU joins")
        now = time.monotonic()
        frames = self.frames_offset + sum(book.frames for book in self.acting_books)
        mean_last100 = sum(self.returns) / len(self.returns) if self.returns else None
        if mean_last100 is not None and len(self.returns) == 100:
            self.best_mean = max(self.best_mean or mean_last100, mean_last100)
            if self._reached_target(mean_last100) and self.seconds_to_target is None:
                self.seconds_to_target = self.wall_offset + now - self.start_time
                self.frames_to_target = frames
        seconds = max(now - previous[0], 1e-9)
        metrics = learner["metrics"]
        info = learner["replay"]
        step_s, wait_s = metrics.get("learner_step_s", 0.0), metrics.get("learner_wait_s", 0.0)
        self.last_report = RunReport(
            env_id=self.config.env_id, wall_seconds=self.wall_offset + now - self.start_time,
            env_frames=frames, frames_per_second=(frames - previous[1]) / seconds,
            learner_updates=learner["updates"], updates_per_second=(learner["updates"] - previous[2]) / seconds,
            episode_return_mean_last100=mean_last100, best_episode_return_mean_last100=self.best_mean,
            episodes=self.episodes, num_actors=self._actors_alive(now),
            return_source="evaluator" if self.agent.has_evaluator else "actors",
            actor_episode_return_mean_last100=(sum(self.actor_returns) / len(self.actor_returns)
                                               if self.actor_returns else None),
            actor_restarts=self.base.actor_restarts + sum(book.restarts for book in self.books),
            nodes_lost=self.base.nodes_lost + self.launcher.nodes_lost,
            env_errors=sum(book.errors for book in self.books),
            policy_lag=metrics.get("policy_lag_mean"), param_version=learner["version"],
            replay_queue_size=info.get("current_size"), replay_inserts=info.get("num_inserts"),
            replay_samples=info.get("num_samples"), learner_step_s=step_s, learner_wait_s=wait_s,
            learner_wait_fraction=wait_s / (step_s + wait_s) if step_s + wait_s > 0 else 0.0,
            grad_norm=metrics.get("grad_norm"),
            episode_length_mean_last100=sum(self.lengths) / len(self.lengths) if self.lengths else None,
            actor_ms_per_step=self._actor_ms_per_step(),
            loss={key[:-5] if key.endswith("_loss") else key: value for key, value in metrics.items()
                  if key.endswith("_loss")},
            learner_metrics=metrics, learner_error=learner["error"],
            learner_restarts=self.base.learner_restarts + self.learner_book.restarts,
            replay_restarts=self.base.replay_restarts + self.launcher.replay_restarts,
            replay_items_restored=self.launcher.replay_restore and self.launcher.replay_restore.items,
            replay_items_lost=self.launcher.replay_items_lost,
        )
        return self.last_report

    def _poll_learner(self) -> dict[str, Any]:
        """The learner's status; while it restarts, the last one seen (its counters stand still)."""
        now = time.monotonic()
        status = self.launcher.learner_status(timeout_s=60)
        if status is not None and "updates" not in status:  # an error without counters: keep the last ones
            status = {**self._poll_fallback(), **status}
        message = self.learner_book.update(status, now)
        if message:
            self.display.message(message)
        if status is not None and not status["started"] and not self.stop_event.is_set():
            self.launcher.start_learner_loop()  # NOTE: a restarted learner waits for this, as at start-up
        return status or self._poll_fallback()

    def _poll_fallback(self) -> dict[str, Any]:
        return self.learner_book.last_status or {
            "metrics": {}, "replay": {}, "updates": self.last_report.learner_updates,
            "version": self.last_report.param_version, "error": None}

    def _actor_ms_per_step(self) -> dict[str, float]:
        """Milliseconds per vector step in each actor stage, over the last report period, mean over actors."""
        names = ["unrolls", *(f"seconds_{stage}" for stage in ACTOR_STAGES)]
        totals = {name: sum(book.total(name) for book in self.acting_books) for name in names}
        delta = {name: totals[name] - self._actor_totals.get(name, 0.0) for name in names}
        self._actor_totals = totals
        steps = delta["unrolls"] * self.config.unroll_length
        if steps <= 0:
            return {}
        return {stage: 1000.0 * delta[f"seconds_{stage}"] / steps for stage in ACTOR_STAGES}

    def _poll_actors(self) -> None:
        answers = self.launcher.actor_stats({index for index, book in enumerate(self.books) if book.dead})
        for index, stats in answers.items():
            book = self.books[index]
            if stats is ROLE_DIED:
                # NOTE: a restarting actor fails calls for a while; only a long silence is death.
                book.failed_polls += 1
                book.dead = book.failed_polls * self.config.report_period_s > 120
                continue
            book.failed_polls = 0
            restarted_from = book.update(stats, time.monotonic())
            if restarted_from is not None:
                self.display.message(f"actor {index} was restarted by Ray (pid {restarted_from} -> {stats['pid']})")
            if stats.get("error"):  # only the local launcher reports one: its actors are not restarted
                book.dead = True
                self.display.message(f"actor {index} stopped:\n{stats['error']}")
            if self.agent.has_evaluator and stats.get("role") != "evaluator":
                self.actor_returns.extend(episode_return for episode_return, _ in stats["episodes"])
                continue
            for episode_return, episode_length in stats["episodes"]:
                self.returns.append(episode_return)
                self.lengths.append(episode_length)
                self.episodes += 1

    def _actors_alive(self, now: float) -> int:
        silence_s = max(15.0, 3 * self.config.report_period_s)
        return sum(book.alive(now, silence_s) for book in self.acting_books)

    @property
    def acting_books(self) -> list[_ActorBook]:
        """The acting actors' books (the evaluator's, if any, is the last one)."""
        return self.books[:len(self.books) - int(self.agent.has_evaluator)]

    def _reached_target(self, mean_last100: float) -> bool:
        return self.config.target_return is not None and mean_last100 >= self.config.target_return

    def _should_stop(self, report: RunReport) -> str | None:
        config = self.config
        if report.learner_error:
            self.display.message(f"learner failed:\n{report.learner_error}")
            return "learner error"
        if config.max_env_frames and report.env_frames >= config.max_env_frames:
            return "max_env_frames"
        if config.max_seconds and time.monotonic() - self.start_time >= config.max_seconds:
            return "max_seconds"
        if config.stop_at_target and self.seconds_to_target is not None:
            return "target_return"
        if self.acting_books and all(book.dead for book in self.acting_books):
            return "all actors died"
        if self.learner_book.down_for(time.monotonic()) > max(120.0, self.config.stall_timeout_s):
            return (f"learner lost: it has not answered for {self.learner_book.down_for(time.monotonic()):.0f} s "
                    f"after {self.learner_book.restarts} restarts")
        stalled = self.watchdog.observe(time.monotonic(), report.env_frames, report.learner_updates)
        if stalled:
            self.display.message(stalled)
        return stalled

    def _progress(self, report: RunReport) -> dict[str, Any]:
        return {"env_frames": report.env_frames, "wall_seconds": report.wall_seconds,
                "episodes": self.episodes, "last_returns": list(self.returns), "last_lengths": list(self.lengths),
                "last_actor_returns": list(self.actor_returns),
                "best_episode_return_mean_last100": self.best_mean, "learner_updates": report.learner_updates,
                "seconds_to_target": self.seconds_to_target, "frames_to_target": self.frames_to_target,
                "actor_pids": [book.pid for book in self.books], "actor_restarts": report.actor_restarts,
                "nodes_lost": report.nodes_lost, "num_actors": report.num_actors,
                "learner_pid": self.learner_book.pid, "learner_restarts": report.learner_restarts,
                "replay_restarts": report.replay_restarts,
                "param_version": report.param_version, "actor_param_versions": [book.version for book in self.books]}

    def _record_manifest(self, checkpoint: str | None = None, *, final: bool = False) -> None:
        """Write manifest.json when a new learner checkpoint is on disk, and at shutdown (`final`). Never raises."""
        checkpoint = checkpoint or manifest.newest_learner_checkpoint(self.run_dir)
        if checkpoint is None or (checkpoint == self._manifest_checkpoint and not final):
            return
        try:
            counters = manifest.counters_of(self.last_report, self.episodes)
            manifest.write(self.run_dir, manifest.build(self.run_dir, self.config.to_dict(), checkpoint, counters))
            self._manifest_checkpoint = checkpoint
        except (OSError, ValueError) as error:  # NOTE: the run goes on; the previous manifest stays whole
            self.display.message(f"manifest.json not written ({error}); --resume uses the previous one")

    # ---- shutdown ---------------------------------------------------------------------------
    def shutdown(self) -> str | None:
        """Stop actors, then save the learner, then Reverb (and Ray). Never raises."""
        return self.launcher.stop(on_error=self.display.message)

    def summary(self, checkpoint: str | None) -> dict[str, Any]:
        now = time.monotonic()
        loop_start = self.loop_start if self.loop_start is not None else now
        session_seconds = (self.loop_end or now) - loop_start
        frames = self.last_report.env_frames
        return {
            **summary_fields(self.last_report), "wall_seconds": self.wall_offset + now - self.start_time,
            "frames_per_second": (frames - self.frames_offset) / session_seconds if session_seconds > 0 else 0.0,
            "startup_seconds": loop_start - self.start_time,
            "best_episode_return_mean_last100": self.best_mean, "episodes": self.episodes,
            "target_return": self.config.target_return, "seconds_to_target": self.seconds_to_target,
            "frames_to_target": self.frames_to_target, "stopped_because": self.stopped_because,
            "final_checkpoint": checkpoint, "resumed": self.resume, "start_epoch": self.start_epoch,
        }


def install_signal_handlers(driver: Driver) -> None:
    """Ctrl-C / SIGTERM end the loop; the driver's `finally` does the clean shutdown."""

    def handle(signum, _frame):
        driver.stopped_because = signal.Signals(signum).name
        driver.stop_event.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
